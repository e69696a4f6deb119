"""Every field of the envelope and of every event payload (nested models too) is documented in
English and in French: `Field(description="English. — Français.")`."""

from typing import Any

from pydantic import BaseModel

from marelle_contracts import EVENTS, Envelope

SEPARATOR = " — "


def bilingual_problem(description: str | None) -> str | None:
    if not description:
        return "no description"
    if description.count(SEPARATOR) != 1:
        return f"not « English. — Français. » (one {SEPARATOR!r} expected): {description!r}"
    english, french = (part.strip() for part in description.split(SEPARATOR))
    if not english or not french or english == french:
        return f"an English part and a different French part expected: {description!r}"
    return None


def undocumented(model: type[BaseModel], name: str) -> list[str]:
    """`name.path: problem` for every property of the model's JSON Schema, $defs included."""
    schema = model.model_json_schema()
    objects: list[tuple[str, dict[str, Any]]] = [(name, schema)]
    objects += [(f"{name} ({def_name})", sub) for def_name, sub in schema.get("$defs", {}).items()]
    problems = []
    for where, sub in objects:
        for field, prop in sub.get("properties", {}).items():
            problem = bilingual_problem(prop.get("description"))
            if problem:
                problems.append(f"{where}.{field}: {problem}")
    return problems


def test_every_field_of_every_event_and_of_the_envelope_is_described_in_english_and_french():
    problems = undocumented(Envelope, "envelope")
    for spec in EVENTS.values():
        problems += undocumented(spec.model, spec.event_type)
    assert problems == [], "\n".join(problems)


def test_the_check_sees_a_missing_or_one_language_description_even_nested():
    class Inner(BaseModel):
        a: int

    class Outer(BaseModel):
        inner: list[Inner]
        b: str = ""

    assert undocumented(Outer, "x") == ["x.inner: no description", "x.b: no description",
                                        "x (Inner).a: no description"]
    assert bilingual_problem("Only English.")
    assert bilingual_problem("Same. — Same.")
    assert bilingual_problem("Child id. — Identifiant de l'enfant.") is None
