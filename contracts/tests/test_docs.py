"""docs/events.md is generated from the models and its examples are valid messages."""

import json
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from marelle_contracts import EVENTS, Envelope, Topics, dlq_topic, parse_payload
from marelle_contracts.docs import DEFAULT_OUTPUT, example_message, main
from marelle_contracts.export import DEFAULT_ROOT


def test_events_guide_is_up_to_date():
    assert main(["--check"]) == 0, "run: python -m marelle_contracts.export"


def test_the_guide_covers_topics_rules_and_every_event():
    text = DEFAULT_OUTPUT.read_text(encoding="utf-8")
    for topic in Topics.all_event_topics():
        assert f"`{topic}`" in text and f"`{dlq_topic(topic)}`" in text
    for heading in ("## Keys and ordering", "## Delivery: at least once", "## The envelope",
                    "## `aggregate_version`: apply only newer", "## Compatibility rules",
                    "## Validating messages with the JSON Schemas", "## Inbound topics"):
        assert f"\n{heading}" in text
    for spec in EVENTS.values():
        assert f"#### `{spec.event_type}`" in text
        assert json.dumps(example_message(spec), indent=2, ensure_ascii=False) in text


def _validator(schema_file: str) -> Draft202012Validator:
    schema = json.loads((DEFAULT_ROOT / "schemas" / schema_file).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("event_type", list(EVENTS))
def test_each_example_is_a_valid_message(event_type):
    spec = EVENTS[event_type]
    message = example_message(spec)
    envelope = Envelope.model_validate(message)
    assert envelope.event_type == event_type and envelope.schema_version == spec.schema_version
    assert envelope.key == str(message["payload"][spec.key_field])
    parse_payload(event_type, envelope.payload)
    _validator("envelope.json").validate(message)
    _validator(f"{event_type}.v{spec.schema_version}.json").validate(message["payload"])
    assert DEFAULT_OUTPUT.read_text(encoding="utf-8").count(f'"event_type": "{event_type}"') == 1


def test_the_documented_check_jsonschema_commands_work(tmp_path):
    message = example_message(EVENTS["booking.reservation_confirmed"])
    (tmp_path / "message.json").write_text(json.dumps(message), encoding="utf-8")
    (tmp_path / "payload.json").write_text(json.dumps(message["payload"]), encoding="utf-8")
    wrong = {**message["payload"], "day": 20261021}
    (tmp_path / "wrong.json").write_text(json.dumps(wrong), encoding="utf-8")

    def check(schema: str, instance: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--schemafile",
             str(DEFAULT_ROOT / "schemas" / schema), str(tmp_path / instance)],
            capture_output=True, text=True, check=False)

    assert check("envelope.json", "message.json").returncode == 0
    schema = "booking.reservation_confirmed.v1.json"
    assert check(schema, "payload.json").returncode == 0
    refused = check(schema, "wrong.json")
    assert refused.returncode == 1 and "day" in refused.stdout


@pytest.mark.parametrize("event_type", list(EVENTS))
def test_each_example_read_in_one_pass_equals_the_two_pass_reading(event_type):
    """A consumer that knows the type (the record's header) reads the envelope and its payload
    in one pass: the same envelope and the same payload as reading the envelope, then the
    payload from its dict."""
    from marelle_contracts.registry import payload_of, typed_envelope

    raw = json.dumps(example_message(EVENTS[event_type]))
    generic = Envelope.model_validate_json(raw)
    typed = typed_envelope(event_type).model_validate_json(raw)
    assert isinstance(typed, Envelope) and not isinstance(typed.payload, dict)
    assert payload_of(typed) is typed.payload
    assert payload_of(typed) == payload_of(generic) == parse_payload(event_type, generic.payload)
    assert typed.model_dump(exclude={"payload"}) == generic.model_dump(exclude={"payload"})


def test_an_envelope_read_as_another_type_is_judged_by_its_own():
    from marelle_contracts.registry import payload_of, typed_envelope

    assert typed_envelope("inconnu.type") is None and typed_envelope(None) is None
    created = example_message(EVENTS["identity.family_created"])
    # A family_created whose payload also fits another type's model (extra fields ignored, so
    # dropped): its payload is refused rather than taken for a family_created.
    as_other = typed_envelope("identity.family_reviewed").model_validate_json(
        json.dumps(created))
    assert as_other.event_type == "identity.family_created"
    with pytest.raises(ValueError, match="FamilyReviewed"):
        payload_of(as_other)
