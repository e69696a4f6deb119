"""Export the JSON Schemas and the AsyncAPI 3.0 document of every event.

`python -m marelle_contracts.export` rewrites `contracts/schemas/`, `contracts/asyncapi.json` and
`docs/events.md`, and publishes the schema of every new event version in `contracts/published/`
(a snapshot that already exists is never overwritten: `marelle_contracts.compat` guards it).
`--check` exits 1 when the checked-in files differ from the code or a snapshot is missing (run
in CI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from marelle_contracts.envelope import Envelope
from marelle_contracts.registry import EVENTS, EventSpec
from marelle_contracts.topics import PARTITIONS, Topics, dlq_topic

DEFAULT_ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_DIR = "published"
# docs/events.md, relative to the contracts directory (the repository's docs/).
DOCS_FILE = "../docs/events.md"


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


dump_schema = _dump


def envelope_schema() -> dict[str, Any]:
    return Envelope.model_json_schema()


def event_schema(spec: EventSpec) -> dict[str, Any]:
    schema = spec.model.model_json_schema()
    schema["title"] = spec.event_type
    schema["description"] = spec.summary
    return schema


def published_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def schema_files() -> dict[str, str]:
    files = {"schemas/envelope.json": _dump(envelope_schema())}
    for spec in EVENTS.values():
        files[f"schemas/{published_name(spec.event_type, spec.schema_version)}"] = _dump(
            event_schema(spec))
    return files


def unpublished(root: Path) -> dict[str, str]:
    """Snapshots to publish: the schemas of event versions (or envelope) not published yet."""
    return {
        f"{PUBLISHED_DIR}/{rel.removeprefix('schemas/')}": text
        for rel, text in schema_files().items()
        if not (root / PUBLISHED_DIR / rel.removeprefix("schemas/")).exists()
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in Topics.all_event_topics():
        specs = [s for s in EVENTS.values() if s.topic == topic]
        channel_id = topic.replace(".", "_")
        channel_messages = {}
        for spec in specs:
            message_id = f"{spec.event_type.replace('.', '_')}_v{spec.schema_version}"
            payload_schema = spec.model.model_json_schema()
            messages[message_id] = {
                "name": spec.event_type,
                "title": spec.event_type,
                "summary": spec.summary,
                "contentType": "application/json",
                "headers": {"type": "object", "properties": {
                    "event_type": {"const": spec.event_type},
                    "schema_version": {"const": str(spec.schema_version)},
                }},
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Envelope"},
                        {"type": "object", "properties": {
                            "event_type": {"const": spec.event_type},
                            "schema_version": {"const": spec.schema_version},
                            "payload": payload_schema,
                        }},
                    ]
                },
                "bindings": {"kafka": {"key": {"type": "string",
                                               "description": f"{spec.key_field}"}}},
            }
            channel_messages[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {
            "address": topic,
            "description": f"Events of {topic.split('.')[1]}; DLQ: {dlq_topic(topic)}",
            "messages": channel_messages,
            "bindings": {"kafka": {"partitions": PARTITIONS}},
        }
        if channel_messages:
            operations[f"publish_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"}
                             for m in channel_messages],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Marelle events",
            "version": "1.0.0",
            "description": "Events that Marelle's services publish on Kafka.",
            "license": {"name": "AGPL-3.0-or-later"},
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"Envelope": envelope_schema()}},
    }


def all_files() -> dict[str, str]:
    """Generated files, relative to the contracts directory (snapshots excepted)."""
    from marelle_contracts.docs import render

    files = schema_files()
    files["asyncapi.json"] = _dump(asyncapi_document())
    files[DOCS_FILE] = render()
    return files


def differences(root: Path) -> list[str]:
    """Paths whose checked-in content differs from the code's, that are stale, or snapshots
    not published yet."""
    expected = all_files()
    stale = [
        str(p.relative_to(root)) for p in (root / "schemas").glob("*.json")
        if str(p.relative_to(root)) not in expected
    ]
    changed = [
        rel for rel, text in expected.items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + stale + list(unpublished(root)))


def write(root: Path) -> list[str]:
    """Regenerate every file; publish missing snapshots (never overwrite one). Returns the
    snapshots published."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    for stale in (root / "schemas").glob("*.json"):
        stale.unlink()
    for rel, text in all_files().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    published = unpublished(root)
    (root / PUBLISHED_DIR).mkdir(parents=True, exist_ok=True)
    for rel, text in published.items():
        with open(root / rel, "x", encoding="utf-8") as snapshot:  # "x": never overwrite
            snapshot.write(text)
    return sorted(published)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        diff = differences(args.root)
        if diff:
            print("Generated contracts are out of date; run "
                  "`python -m marelle_contracts.export`:", *diff, sep="\n  ")
            return 1
        return 0
    for rel in write(args.root):
        print(f"published {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
