"""Does an HTTP answer conform to a service's real OpenAPI document?

Used by the test fakes' contract tests (gateway, back-office): a fake answer must be one the real
service could send. `check_answer` finds the route (method + path template) in the document,
the response it declares for the status, and validates the body against that response's JSON
Schema (OpenAPI 3.1 schemas are JSON Schema 2020-12), `$ref`s resolved in the same document.

The validation is strict about objects: a property the document does not declare is an error
(the services' answer models ignore unknown fields, but a service never sends one its model does
not have, so a fake that does is lying). Needs the `jsonschema` package (test requirement).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

_REF = "#/components/schemas/"


@dataclass
class AnswerCheck:
    """What the document says about one answer: `errors` empty means it conforms."""

    route: str | None = None  # the matching path template
    # The component the document declares for the answer (`Family`), None when the route's
    # answer is an undescribed object (a service endpoint without `response_model`).
    declared_model: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def typed(self) -> bool:
        return self.declared_model is not None


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
                      + "$")


def find_route(spec: dict[str, Any], method: str, path: str) -> str | None:
    """The path template of `spec` that `path` (concrete or a template) falls under, for
    `method`; literal segments win over parameters (`/x/new` before `/x/{id}`)."""
    if path in spec.get("paths", {}) and method.lower() in spec["paths"][path]:
        return path
    found = [t for t, ops in spec.get("paths", {}).items()
             if method.lower() in ops and _template_regex(t).match(path)]
    return min(found, key=lambda t: t.count("{"), default=None)


def _model_name(ref: str) -> str:
    # FastAPI names a model used both ways with a suffix: `Family-Output`.
    return ref.removeprefix(_REF).removesuffix("-Output").removesuffix("-Input")


def _closed(schema: Any) -> Any:
    """A copy where every object with declared properties admits no other property."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _errors(schema: dict[str, Any], components: dict[str, Any], body: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    document = _closed({**copy.deepcopy(schema), "components": components})
    validator = Draft202012Validator(document)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(corps)'}: {e.message}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))]


def check_answer(spec: dict[str, Any], method: str, path: str, status: int,
                 body: Any = None, *, json_body: bool = True) -> AnswerCheck:
    """`body` (already decoded JSON) as the answer `status` to `method path`.

    `json_body=False` for a non-JSON answer (a PDF): only the route and status are checked.
    """
    result = AnswerCheck()
    route = find_route(spec, method, path)
    if route is None:
        result.errors.append(f"{method} {path}: route absente du document OpenAPI")
        return result
    result.route = route
    responses = spec["paths"][route][method.lower()].get("responses", {})
    declared = responses.get(str(status))
    if declared is None:
        result.errors.append(f"{method} {route}: statut {status} non déclaré "
                             f"(déclarés : {', '.join(sorted(responses))})")
        return result
    if not json_body or status == 204:
        return result
    schema = declared.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        result.errors.append(f"{method} {route}: pas de réponse JSON déclarée pour {status}")
        return result
    if "$ref" in schema:
        result.declared_model = _model_name(schema["$ref"])
    elif schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        result.declared_model = "list[" + _model_name(schema["items"]["$ref"]) + "]"
    components = spec.get("components", {})
    result.errors += [f"{method} {route}: {e}" for e in _errors(schema, components, body)]
    return result


def check_request(spec: dict[str, Any], method: str, path: str, body: Any) -> list[str]:
    """`body` as the request body of `method path`, against the declared request schema."""
    route = find_route(spec, method, path)
    if route is None:
        return [f"{method} {path}: route absente du document OpenAPI"]
    declared = spec["paths"][route][method.lower()].get("requestBody", {})
    schema = declared.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return [f"{method} {route}: pas de corps de requête JSON déclaré"]
    return [f"{method} {route}: {e}"
            for e in _errors(schema, spec.get("components", {}), body)]


def check_model(model: type[BaseModel], body: Any) -> list[str]:
    """`body` against a contract model's own serialization schema (strict about objects)."""
    schema = model.model_json_schema(mode="serialization", ref_template=_REF + "{model}")
    components = {"schemas": schema.pop("$defs", {})}
    return [f"{model.__name__}: {e}" for e in _errors(schema, components, body)]


# --- bounds of request bodies -------------------------------------------------------------------

# Strings whose format already bounds them (pydantic checks the format before anything else).
_BOUNDED_FORMATS = frozenset({"uuid", "date", "date-time", "time", "duration"})


def unbounded(schema: Any, components: dict[str, Any] | None = None,
              where: str = "") -> list[str]:
    """The places of a (request) JSON Schema where a string has no `maxLength`, a list no
    `maxItems` or a map no `maxProperties`: what an attacker could make as big as the body limit
    allows. `$ref`s are followed in `components` (`{"schemas": …}` or pydantic's `$defs`)."""
    components = components or {}
    found: list[str] = []
    seen: set[str] = set()

    def resolve(ref: str) -> Any:
        name = ref.rsplit("/", 1)[-1]
        for table in (components.get("schemas", {}), components.get("$defs", {})):
            if name in table:
                return name, table[name]
        return name, {}

    def walk(node: Any, at: str) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name, target = resolve(node["$ref"])
            if name not in seen:
                seen.add(name)
                walk(target, name)
            return
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "enum" in node or "const" in node:
            pass
        elif "string" in kinds and "maxLength" not in node \
                and node.get("format") not in _BOUNDED_FORMATS:
            found.append(f"{at or '(corps)'}: chaîne sans longueur maximale")
        if "array" in kinds and "maxItems" not in node:
            found.append(f"{at or '(corps)'}: liste sans nombre maximal d'éléments")
        if "object" in kinds and isinstance(node.get("additionalProperties"), dict) \
                and "maxProperties" not in node:
            found.append(f"{at or '(corps)'}: dictionnaire sans nombre maximal de clés")
        if "object" in kinds and isinstance(node.get("additionalProperties"), dict) \
                and "propertyNames" not in node:
            found.append(f"{at}{{propertyNames}}: chaîne sans longueur maximale")
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{at}.{name}" if at else name)
        for key in ("items", "additionalProperties", "propertyNames"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{at}[]" if key == "items" else f"{at}{{{key}}}")
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in node.get(key, []):
                walk(sub, at)

    walk(schema, where)
    return found


def request_models() -> list[type[BaseModel]]:
    """Every request body of the contracts: the `Strict` models, and the one `Answer` a service
    still reads (identity's provisional sign-up)."""
    from marelle_contracts.http import _base, billing, booking, enrolment, identity, platform  # noqa: F401

    found: list[type[BaseModel]] = []
    pending = list(_base.Strict.__subclasses__())
    while pending:
        model = pending.pop()
        if model not in found:
            found.append(model)
            pending += model.__subclasses__()
    found.append(identity.ProvisionalFamilyIn)
    return sorted(found, key=lambda m: f"{m.__module__}.{m.__qualname__}")


def model_unbounded(model: type[BaseModel]) -> list[str]:
    """`unbounded` on a model's validation schema (what it accepts)."""
    schema = model.model_json_schema(mode="validation")
    return [f"{model.__module__.rsplit('.', 1)[-1]}.{model.__name__}: {p}"
            for p in unbounded(schema, {"$defs": schema.get("$defs", {})})]
