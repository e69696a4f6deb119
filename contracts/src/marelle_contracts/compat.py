"""Compatibility gate: today's event schemas against the last published ones.

`contracts/published/` keeps the last published JSON Schema of every event version
(`<event_type>.v<N>.json`) and of the envelope (`envelope.json`). Within a version only optional
fields may be added (and enum values); anything else — a field removed, a type changed (nested
models too; a format such as date → string; `null` allowed or no longer allowed), a field that
became required (or stopped being required), a new required field, enum values removed, a
constraint or a default changed — is a breaking change that needs a new version. Titles,
descriptions, examples and `x-…` annotations are documentation, not part of compatibility.

`python -m marelle_contracts.compat` exits 1 with one message per problem (run by the test
command through `tests/test_compat.py`). `--accept` records compatible changes (new optional
fields, new enum values, new descriptions) in the published snapshots; it never records a
breaking one. A new event type has no snapshot yet: `python -m marelle_contracts.export` writes
the missing ones (and never overwrites an existing one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marelle_contracts.export import (
    DEFAULT_ROOT,
    PUBLISHED_DIR,
    dump_schema,
    envelope_schema,
    event_schema,
    published_name,
)
from marelle_contracts.registry import EVENTS

# Keywords that document a schema without constraining it.
ANNOTATIONS = frozenset({"title", "description", "examples", "example", "$comment", "deprecated",
                         "readOnly", "writeOnly"})
# Keywords compared below with their own rules; any other keyword must stay equal.
_HANDLED = frozenset({"$ref", "$defs", "anyOf", "oneOf", "allOf", "type", "format", "enum",
                      "default", "items", "properties", "required", "additionalProperties"})
_MISSING = object()


@dataclass(frozen=True)
class Contract:
    """One published schema: its snapshot's file name, who it is, what a breaking change needs."""

    file: str
    subject: str
    remedy: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Change:
    path: str
    what: str
    breaking: bool


@dataclass
class Result:
    breaking: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)      # compatible, not yet recorded
    unpublished: list[str] = field(default_factory=list)  # no snapshot yet (new event type)
    withdrawn: list[str] = field(default_factory=list)    # snapshot without a current schema

    @property
    def errors(self) -> list[str]:
        return self.breaking + self.withdrawn + self.unpublished + self.pending


def event_contract(event_type: str, version: int, schema: dict[str, Any]) -> Contract:
    return Contract(
        file=published_name(event_type, version),
        subject=f"{event_type} v{version}",
        remedy=f"a breaking change needs a new version ({event_type} v{version + 1})",
        schema=schema,
    )


def envelope_contract(schema: dict[str, Any]) -> Contract:
    return Contract(
        file="envelope.json",
        subject="envelope",
        remedy="a breaking change to the envelope needs new topics (marelle.<service>.v2)",
        schema=schema,
    )


def current_contracts() -> list[Contract]:
    """The envelope and every registered event version, as the code generates them today."""
    contracts = [envelope_contract(envelope_schema())]
    contracts += [event_contract(spec.event_type, spec.schema_version, event_schema(spec))
                  for spec in EVENTS.values()]
    return contracts


# -- comparing two schemas ---------------------------------------------------------------------


class _Schemas:
    """Walks a published schema (`old`) and a current one (`new`) side by side."""

    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.roots = (old_root, new_root)
        self.changes: list[Change] = []

    def add(self, path: str, what: str, breaking: bool = True) -> None:
        self.changes.append(Change(path or "(root)", what, breaking))

    # resolution

    @staticmethod
    def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
        """Follow local `$ref`s (siblings win) and single-element `allOf` wrappers."""
        for _ in range(64):
            if "$ref" in schema:
                ref = schema["$ref"]
                if not ref.startswith("#/$defs/"):
                    raise ValueError(f"unsupported $ref {ref!r}")
                target = root.get("$defs", {})[ref.removeprefix("#/$defs/")]
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**target, **rest}
            elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
                rest = {k: v for k, v in schema.items() if k != "allOf"}
                schema = {**schema["allOf"][0], **rest}
            else:
                return schema
        raise ValueError("recursive schema")

    def variants(self, schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self.resolve(schema, root)
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                out: list[dict[str, Any]] = []
                for option in schema[keyword]:
                    out += self.variants(option, root)
                return out
        if isinstance(schema.get("type"), list):
            return [{**schema, "type": t} for t in schema["type"]]
        return [schema]

    @staticmethod
    def kind(schema: dict[str, Any]) -> str:
        """The type a consumer parses: JSON type plus format, e.g. `string(date)`."""
        base = schema.get("type")
        if base is None:
            if "properties" in schema:
                base = "object"
            elif "enum" in schema or "const" in schema:
                base = "value"
            else:
                return "any"
        fmt = schema.get("format")
        return f"{base}({fmt})" if fmt else str(base)

    def describe(self, schema: dict[str, Any], root: dict[str, Any]) -> str:
        parts = []
        for option in self.variants(schema, root):
            text = self.kind(option)
            if "enum" in option:
                text = "enum(" + ", ".join(map(str, option["enum"])) + ")"
            elif "const" in option:
                text = f"const({json.dumps(option['const'], ensure_ascii=False)})"
            elif text == "array" and "items" in option:
                text = f"array of {self.describe(option['items'], root)}"
            parts.append(text)
        return " | ".join(parts)

    # comparison

    def compare(self, old: dict[str, Any], new: dict[str, Any], path: str,
                depth: int = 0) -> None:
        if depth > 50:
            return  # a recursive model: its levels below are the ones already compared
        old_root, new_root = self.roots
        old_r, new_r = self.resolve(old, old_root), self.resolve(new, new_root)
        old_default, new_default = old_r.get("default", _MISSING), new_r.get("default", _MISSING)
        if old_default != new_default:
            self.add(path, f"changed default from {_show(old_default)} to {_show(new_default)}")
        old_v, new_v = self.variants(old, old_root), self.variants(new, new_root)
        old_kinds = sorted(self.kind(v) for v in old_v)
        new_kinds = sorted(self.kind(v) for v in new_v)
        if old_kinds != new_kinds:
            self.add(path, f"changed type from {self.describe(old, old_root)} to "
                           f"{self.describe(new, new_root)}")
            return
        unmatched = list(new_v)
        for option in old_v:
            twin = next(v for v in unmatched if self.kind(v) == self.kind(option))
            unmatched.remove(twin)
            self.compare_one(option, twin, path, depth)

    def compare_one(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> None:
        old_root, new_root = self.roots
        if ("enum" in old) != ("enum" in new):
            self.add(path, f"changed type from {self.describe(old, old_root)} to "
                           f"{self.describe(new, new_root)}")
        elif "enum" in old:
            lost = [v for v in old["enum"] if v not in new["enum"]]
            gained = [v for v in new["enum"] if v not in old["enum"]]
            if lost:
                self.add(path, f"lost enum values {_values(lost)} "
                               f"(now {self.describe(new, new_root)})")
            if gained:
                self.add(path, f"gained enum values {_values(gained)}", breaking=False)
        if "items" in old or "items" in new:
            self.compare(old.get("items", {}), new.get("items", {}), f"{path}[]", depth + 1)
        if "properties" in old or "properties" in new:
            self.compare_properties(old, new, path, depth)
        old_extra = old.get("additionalProperties", _MISSING)
        new_extra = new.get("additionalProperties", _MISSING)
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, _join(path, "*"), depth + 1)
        elif old_extra != new_extra:
            self.add(path, f"changed `additionalProperties` from {_show(old_extra)} to "
                           f"{_show(new_extra)}")
        for keyword in sorted((set(old) | set(new)) - _HANDLED - ANNOTATIONS):
            if keyword.startswith("x-"):
                continue
            before, after = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
            if _strip(before) != _strip(after):
                self.add(path, f"changed `{keyword}` from {_show(before)} to {_show(after)}")

    def compare_properties(self, old: dict[str, Any], new: dict[str, Any], path: str,
                           depth: int) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        for name, old_prop in old_props.items():
            where = _join(path, name)
            if name not in new_props:
                self.add(where, "was removed")
                continue
            if name in new_req and name not in old_req:
                self.add(where, "became required")
            elif name in old_req and name not in new_req:
                self.add(where, "is no longer required (consumers rely on it)")
            self.compare(old_prop, new_props[name], where, depth + 1)
        for name in new_props:
            if name in old_props:
                continue
            new_type = self.describe(new_props[name], self.roots[1])
            if name in new_req:
                self.add(_join(path, name), f"was added as a required field ({new_type}); only "
                                            "optional fields may be added within a version")
            else:
                self.add(_join(path, name), f"was added as an optional field ({new_type})",
                         breaking=False)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    if value is _MISSING:
        return "none"
    return json.dumps(_strip(value), ensure_ascii=False, sort_keys=True)


def _values(values: Iterable[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _strip(value: Any, *, in_properties: bool = False) -> Any:
    """The schema without its annotations (property names are kept whatever they are)."""
    if isinstance(value, dict):
        return {k: _strip(v, in_properties=(k in {"properties", "$defs"} and not in_properties))
                for k, v in value.items()
                if in_properties or (k not in ANNOTATIONS and not k.startswith("x-"))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def compare_schemas(published: dict[str, Any], current: dict[str, Any]) -> list[Change]:
    """Every difference that matters to a consumer, from the published schema to the current."""
    walker = _Schemas(published, current)
    walker.compare(published, current, "")
    return walker.changes


# -- the gate ----------------------------------------------------------------------------------


def check(root: Path = DEFAULT_ROOT, contracts: list[Contract] | None = None) -> Result:
    """Compare `contracts` (default: the code's) with the snapshots in `<root>/published/`."""
    contracts = current_contracts() if contracts is None else contracts
    published_dir = root / PUBLISHED_DIR
    result = Result()
    for contract in contracts:
        path = published_dir / contract.file
        if not path.exists():
            result.unpublished.append(
                f"{contract.subject}: no published schema ({PUBLISHED_DIR}/{contract.file}) — run "
                "`python -m marelle_contracts.export` to publish this new event version")
            continue
        published = json.loads(path.read_text(encoding="utf-8"))
        for change in compare_schemas(published, contract.schema):
            if change.breaking:
                result.breaking.append(
                    f"{contract.subject}: field `{change.path}` {change.what} — {contract.remedy}")
            else:
                result.pending.append(
                    f"{contract.subject}: field `{change.path}` {change.what} — compatible, not "
                    "yet recorded: run `python -m marelle_contracts.compat --accept`")
    known = {c.file for c in contracts}
    for path in sorted(published_dir.glob("*.json")):
        if path.name not in known:
            result.withdrawn.append(
                f"{path.stem}: published but no longer produced — consumers may still rely on it; "
                f"keep the event version (deprecate it), or delete {PUBLISHED_DIR}/{path.name} "
                "only if it never left development")
    return result


def accept(root: Path = DEFAULT_ROOT, contracts: list[Contract] | None = None) -> list[str]:
    """Record compatible changes in the snapshots; return the ones refused (breaking)."""
    contracts = current_contracts() if contracts is None else contracts
    refused: list[str] = []
    for contract in contracts:
        path = root / PUBLISHED_DIR / contract.file
        if not path.exists():
            continue  # the export command publishes new event versions
        published = json.loads(path.read_text(encoding="utf-8"))
        breaking = [c for c in compare_schemas(published, contract.schema) if c.breaking]
        if breaking:
            refused += [f"{contract.subject}: field `{c.path}` {c.what} — {contract.remedy}"
                        for c in breaking]
            continue
        text = dump_schema(contract.schema)
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="the contracts directory (holding published/)")
    parser.add_argument("--accept", action="store_true",
                        help="record compatible changes in the published snapshots")
    args = parser.parse_args(argv)
    if args.accept:
        refused = accept(args.root)
        if refused:
            print("Breaking changes are never recorded:", *refused, sep="\n  ")
            return 1
    errors = check(args.root).errors
    if errors:
        print("Event contracts are not compatible with the published ones:", *errors,
              sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
