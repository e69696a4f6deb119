"""Write `docs/events.md`: the events guide for developers of other systems, from the models.

`python -m marelle_contracts.docs` rewrites it (so does `python -m marelle_contracts.export`);
`--check` exits 1 when the checked-in file differs from the code (run by the test command).
Every example message is built from the payload models and validated by them, so a field added,
renamed or retyped shows up here at the next export.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import uuid
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from marelle_contracts.envelope import Envelope
from marelle_contracts.registry import EVENTS, EventSpec
from marelle_contracts.topics import PARTITIONS, Topics, dlq_topic

DEFAULT_OUTPUT = Path(__file__).resolve().parents[3] / "docs" / "events.md"

# -- example values ----------------------------------------------------------------------------

_NAMESPACE = uuid.UUID("5b0c6f5e-3f0a-4d55-9a53-7c1f0e6d2a11")
_PARIS_SUMMER = timezone(timedelta(hours=2))
_PARIS_WINTER = timezone(timedelta(hours=1))

# By "Model.field" first, then by field name. Ids are derived from the field name, so the same
# child, family or period carries the same id in every example.
_VALUES: dict[str, Any] = {
    "name": "Famille Durand",
    "email": "durand@example.org",
    "first_name": "Zoé",
    "last_name": "Durand",
    "ChildFacts.birth_date": date(2018, 5, 14),
    "AttestedChild.birth_date": date(2021, 2, 9),
    "AttestedChild.first_name": "Léo",
    "GuardianFacts.birth_date": date(1986, 2, 3),
    "GuardianFacts.first_name": "Camille",
    "mobile_phone": "+33612345678",
    "work_phone": "+33145678901",
    "home_phone": "+33145000000",
    "beneficiary_name": "Camille Durand",
    "beneficiary_number": "1234567",
    "old_email": "camille.durand@example.org",
    "new_email": "durand@example.org",
    "changes": {"home_phone": {"before": "+33145000000", "after": "+33145111111"}},
    "ContactChangeRefused.reason": "Justificatif de domicile illisible.",
    "RegistrationRefused.reason": "Dossier incomplet : certificat de vaccination manquant.",
    "AttendanceRecorded.reason": "Maladie (certificat)",
    "facility_name": "CENTRE DE LOISIRS ALSH",
    "activity_type_name": "Vacances",
    "activity_name": "AUTOMNE",
    "PeriodFacts.label": "Automne 2026",
    "GroupFacts.label": "6-8 ans",
    "period_label": "Automne 2026",
    "group_label": "6-8 ans",
    "min_age": 6,
    "max_age": 8,
    "capacity": 24,
    "start_date": date(2026, 10, 19),
    "end_date": date(2026, 10, 30),
    "opens_at": datetime(2026, 9, 1, 8, 0, tzinfo=_PARIS_SUMMER),
    "closes_at": datetime(2026, 10, 12, 23, 59, tzinfo=_PARIS_SUMMER),
    "weekday": 3,
    "units": ["accueil", "repas"],
    "memo": "Allergie aux arachides ; récupérée par sa grand-mère le mercredi.",
    "position": 2,
    "rank": 1,
    "day": date(2026, 10, 21),
    "unit": "repas",
    "unit_label": "Repas",
    "cancelled_by": "famille",
    "cancelled_at": datetime(2026, 10, 19, 18, 30, tzinfo=_PARIS_SUMMER),
    "within_deadline": True,
    "line_name": "Ligne A",
    "stop_name": "École Jules Ferry",
    "locked_at": datetime(2026, 10, 21, 18, 5, tzinfo=_PARIS_SUMMER),
    "present": 21,
    "absent": 2,
    "InvoiceIssued.number": "F2610000042",
    "InvoicePaid.number": "F2610000042",
    "CreditNoteIssued.number": "A2610000003",
    "invoice_number": "F2610000042",
    "regie_code": "ENF",
    "regie_name": "Régie enfance",
    "month": "2026-10",
    "issued_on": date(2026, 11, 2),
    "due_on": date(2026, 11, 30),
    "total_cents": 8640,
    "balance_cents": 8640,
    "amount_cents": 8640,
    "CreditNoteIssued.amount_cents": 1200,
    "received_at": datetime(2026, 11, 5, 10, 12, tzinfo=_PARIS_WINTER),
    "paid_at": datetime(2026, 11, 5, 10, 12, tzinfo=_PARIS_WINTER),
    "receipt_number": "Q2026-000153",
    "unallocated_cents": 0,
    "year": 2026,
    "FiscalAttestationIssued.total_cents": 51200,
    "AttestedChild.amount_cents": 51200,
    "issued_at": datetime(2027, 1, 15, 9, 0, tzinfo=_PARIS_WINTER),
}

# Per event type: payload fields set to what that event says.
_EVENT_VALUES: dict[str, dict[str, Any]] = {
    "enrolment.registration_requested": {"status": "en_attente"},
    "enrolment.registration_validated": {"status": "validee"},
    "enrolment.registration_refused": {"status": "refusee"},
    "enrolment.registration_waitlisted": {"status": "liste_attente"},
    "enrolment.registration_promoted": {"status": "validee"},
    "enrolment.registration_cancelled": {"status": "annulee"},
    "booking.reservation_confirmed": {"status": "reservee"},
    "booking.reservation_waitlisted": {"status": "liste_attente"},
    "booking.reservation_promoted": {"status": "reservee"},
    "booking.reservation_cancelled": {"status": "annulee"},
    "booking.attendance_recorded": {"status": "absent_justifie"},
    "billing.payment_received": {"method": "carte"},
    "quotient.family_quotient_updated": {"beneficiary_number": "1234567", "qf": 620,
                                         "qf_date": "2026-10-01", "source": "caf"},
    "schools.child_assigned_to_class": {"school_year": "2026-2027", "school_id": "0060001A",
                                        "school_name": "École Jules-Ferry",
                                        "class_name": "CP A", "level": "CP"},
    "billing.credit_note_issued": {"allocations": [{"amount_cents": 1200}]},
}

# Events that start their aggregate's story (aggregate_version 1); the others show version 2.
_FIRST = frozenset({
    "identity.family_created", "enrolment.period_published", "enrolment.registration_requested",
    "enrolment.attestation_issued", "booking.reservation_confirmed", "booking.shuttle_booked",
    "booking.attendance_recorded", "booking.roll_call_locked", "billing.invoice_issued",
    "billing.credit_note_issued", "billing.payment_received", "billing.fiscal_attestation_issued",
})


def _lookup(model: type[BaseModel], name: str) -> Any:
    for key in (f"{model.__name__}.{name}", name):
        if key in _VALUES:
            return _VALUES[key]
    for base in model.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, BaseModel) and \
                f"{base.__name__}.{name}" in _VALUES:
            return _VALUES[f"{base.__name__}.{name}"]
    return None


def _value(annotation: Any, model: type[BaseModel], name: str) -> Any:
    known = _lookup(model, name)
    if known is not None:
        return known.isoformat() if isinstance(known, date | datetime) else known
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _value(options[0], model, name) if options else None
    if origin is Literal:
        return get_args(annotation)[0]
    if origin is list:
        return [_value(get_args(annotation)[0], model, name)]
    if origin is dict:
        return {"key": _value(get_args(annotation)[1], model, name)}
    if hasattr(annotation, "__metadata__"):  # Annotated[...]
        return _value(get_args(annotation)[0], model, name)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return example_payload(annotation)
        if issubclass(annotation, Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, uuid.UUID):
            return str(uuid.uuid5(_NAMESPACE, name))
        if issubclass(annotation, datetime):
            return datetime(2026, 10, 21, 9, 15, tzinfo=_PARIS_SUMMER).isoformat()
        if issubclass(annotation, date):
            return date(2026, 10, 21).isoformat()
        if issubclass(annotation, str):
            return name.replace("_", " ")
    return None


def example_payload(model: type[BaseModel], overrides: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """A plausible payload of `model`, every field filled (optional ones too)."""
    values = {name: _value(info.annotation, model, name)
              for name, info in model.model_fields.items()}
    for name, value in (overrides or {}).items():
        if isinstance(value, list) and isinstance(values.get(name), list) and values[name] \
                and isinstance(values[name][0], dict):
            value = [{**values[name][0], **item} for item in value]
        values[name] = value
    return values


def example_message(spec: EventSpec) -> dict[str, Any]:
    """The whole message (envelope and payload) of one event, validated by the models."""
    payload = spec.model.model_validate(
        example_payload(spec.model, _EVENT_VALUES.get(spec.event_type)))
    event_id = uuid.uuid5(_NAMESPACE, f"event:{spec.event_type}")
    envelope = Envelope(
        event_id=event_id,
        event_type=spec.event_type,
        schema_version=spec.schema_version,
        occurred_at=datetime(2026, 10, 21, 9, 15, 42, tzinfo=_PARIS_SUMMER),
        producer=spec.event_type.split(".")[0],
        correlation_id=str(uuid.uuid5(_NAMESPACE, f"correlation:{spec.event_type}")),
        causation_id=None,
        key=str(getattr(payload, spec.key_field)),
        aggregate_version=1 if spec.event_type in _FIRST else 2,
        payload=payload.model_dump(mode="json"),
    )
    return envelope.model_dump(mode="json")


# -- field tables ------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _options(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [o for option in schema["anyOf"] for o in _options(option, root)]
    return [schema]


def _type(schema: dict[str, Any], root: dict[str, Any]) -> str:
    words = []
    for option in _options(schema, root):
        if "enum" in option:
            words.append("one of " + ", ".join(f"`{v}`" for v in option["enum"]))
        elif option.get("type") == "array":
            words.append(f"array of {_type(option.get('items', {}), root)}")
        elif option.get("type") == "object" and isinstance(option.get("additionalProperties"),
                                                           dict):
            words.append(f"map of {_type(option['additionalProperties'], root)}")
        elif option.get("type") == "object":
            words.append("object")
        elif "format" in option:
            words.append(f"{option['type']} ({option['format']})")
        else:
            words.append(str(option.get("type", "any")))
    return " or ".join(words)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(schema: dict[str, Any], root: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if name in required:
            needed = "yes"
        elif "default" in prop:
            needed = f"no (default `{json.dumps(prop['default'], ensure_ascii=False)}`)"
        else:
            needed = "no"
        rows.append(f"| `{path}` | {_cell(_type(prop, root))} | {needed} | "
                    f"{_cell(prop.get('description', ''))} |")
        for option in _options(prop, root):
            if option.get("type") == "array":
                item = _resolve(option.get("items", {}), root)
                rows += _rows(item, root, f"{path}[].")
            elif isinstance(option.get("additionalProperties"), dict):
                rows += _rows(_resolve(option["additionalProperties"], root), root, f"{path}.*.")
            elif "properties" in option:
                rows += _rows(option, root, f"{path}.")
    return rows


def _field_table(schema: dict[str, Any]) -> list[str]:
    return ["| Field | Type | Required | Description (English — Français) |",
            "|---|---|---|---|", *_rows(schema, schema)]


def _json_block(document: Any) -> list[str]:
    return ["```json", json.dumps(document, indent=2, ensure_ascii=False), "```"]


# -- the page ----------------------------------------------------------------------------------


def _anchor(event_type: str) -> str:
    return event_type.replace(".", "")


_INTRO = """\
# Marelle events

<!-- Generated by `python -m marelle_contracts.docs` (also run by `python -m
marelle_contracts.export`) from contracts/src/marelle_contracts/. Do not edit by hand: the test
command fails when this file is out of date. -->

This guide is for developers of other systems (municipal software, accounting, data platforms)
who read the events Marelle's services publish on Kafka. No Python is needed: messages are JSON,
and every event has a JSON Schema.

The machine-readable contract lives in the repository, generated from the same code as this page:

- `contracts/schemas/envelope.json`: the envelope every message travels in;
- `contracts/schemas/<event_type>.v<N>.json`: the payload of each event type, version N;
- `contracts/asyncapi.json`: the whole picture as an AsyncAPI 3.0 document (topics, messages,
  keys), readable in any AsyncAPI viewer;
- `contracts/published/`: the last published schema of each event version, which the
  compatibility gate compares the code against (see [Compatibility](#compatibility-rules)).

Every field of every schema carries a description in English and in French
(« English. — Français. »).
"""


def _topics_section() -> list[str]:
    lines = ["## Topics", "",
             "Each producing service publishes all its events on one topic, "
             "`marelle.<service>.v1`, created explicitly with "
             f"{PARTITIONS} partitions. A dead-letter topic (DLQ), `<topic>.dlq`, sits beside "
             "each one.", "",
             "| Topic | Producer | Partitions | Dead-letter topic | Events |",
             "|---|---|---|---|---|"]
    for topic in Topics.all_event_topics():
        specs = [s for s in EVENTS.values() if s.topic == topic]
        events = ", ".join(f"[`{s.event_type}`](#{_anchor(s.event_type)})" for s in specs)
        lines.append(f"| `{topic}` | {topic.split('.')[1]} | {PARTITIONS} | `{dlq_topic(topic)}` "
                     f"| {events or '—'} |")
    lines += ["",
              "The `v1` in a topic's name is the version of the topic itself (its envelope and "
              "keys); event versions are carried by each message (`schema_version`).", "",
              "**Dead-letter topics.** When one of Marelle's consumers cannot process a message "
              "for a deterministic reason (unreadable envelope, invalid payload, a rule that can "
              "never pass), it retries a bounded number of times, then copies the message "
              "unchanged to `<topic>.dlq` and goes on. The copy keeps the original headers and "
              "adds `x-original-topic`, `x-original-partition`, `x-original-offset`, `x-error`, "
              "`x-attempts`, `x-consumer-group` and `x-dlq-id`. Staff can list the parked "
              "messages and replay one to its original topic (the replay carries an "
              "`x-replayed-from` header, and the same `event_id`). Transient failures (database "
              "or broker unreachable) are never parked: they are retried without end, holding "
              "the partition so that the order per key is kept. The DLQ topics hold Marelle's "
              "own consumers' failures; an external consumer handles its failures on its side.",
              ""]
    return lines


_WIRE = """\
## A message on the wire

Each Kafka record carries:

- **key**: the envelope's `key` (UTF-8 text), the id of the aggregate the event is about (see
  below);
- **value**: the envelope, as UTF-8 JSON, with the event's facts in `payload`;
- **headers** (copies of envelope fields, for routing or filtering without parsing the value;
  the value is authoritative): `event_id`, `event_type`, `schema_version`, `producer`,
  `correlation_id`, and `content-type: application/json`.

## Keys and ordering

Kafka keeps order only within a partition, and every record with the same key goes to the same
partition. So **the events of one key are read in the order they were published**; there is no
order between different keys, nor between topics (a booking event may be read before the
enrolment event it follows from: a consumer waits, or tolerates it).

Keys never change meaning within a topic version. A child's registrations, reservations,
shuttle bookings and attendance records all share the child's key, so one child's story is read
in order, even across several aggregates.

| Event type | Key (payload field) |
|---|---|
"""

_DELIVERY = """\
## Delivery: at least once, deduplicate on `event_id`

A producer writes each state change and its event in one database transaction (transactional
outbox), and a relay publishes the event afterwards. Delivery is **at least once**: an event may
be delivered twice (relay retry after a broker timeout, consumer restart before its offset
commit, replay from a DLQ). A redelivered event keeps its `event_id`.

A consumer therefore:

1. records the `event_id` of every event it has processed, in the same transaction as the
   effects of that event, and skips an event whose `event_id` it already holds;
2. commits its Kafka offset only after the event is processed (or parked);
3. ignores fields it does not know, and event types it does not know.
"""


def _envelope_section() -> list[str]:
    schema = Envelope.model_json_schema()
    return ["## The envelope", "",
            "Every message is this JSON object (`contracts/schemas/envelope.json`); "
            "`payload` holds the event's facts, described by the schema of "
            "`event_type` at `schema_version`.", "",
            *_field_table(schema), ""]


_VERSIONS = """\
## `aggregate_version`: apply only newer

The envelope's `aggregate_version` is the version of the aggregate the event is about, **after**
the change: a number that only grows, by aggregate. The aggregates are the household
(identity); the period, the registration and the attestation (enrolment); the reservation, the
shuttle booking, the attendance record and the roll call (booking); the invoice or credit note,
the payment and the fiscal attestation (billing).

The key and the aggregate are not always the same thing: registration events are keyed by the
child, but versioned by registration. Keep the version per aggregate id (the `registration_id`,
the `reservation_id`…), on your copy of that aggregate:

```text
on event E about aggregate A (version V = E.aggregate_version):
    if E.event_id was already processed: skip
    held = the version stored with your copy of A (or with its tombstone), if any
    if V is present and held is present and V <= held: skip   # late or replayed: older news
    apply E to your copy of A, store V with it, record E.event_id
```

When an aggregate is cancelled or deleted, keep a tombstone (its id and last version), so that a
late event never revives it. Events whose `aggregate_version` is null carry no version: rely on
`event_id` and on the event's own content.
"""

_COMPAT = """\
## Compatibility rules

An event type and its `schema_version` form a contract. **Within a version**, the only changes
allowed are:

- a new **optional** field (it may be absent from older messages);
- a new value in an enumeration (consumers treat an unknown value as they would an unknown
  event: ignore it, or keep it as text);
- documentation: descriptions, titles, examples.

Anything else is a **breaking change** and needs a **new version** of the event
(`schema_version` 2, schema `contracts/schemas/<event_type>.v2.json`): removing or renaming a
field, changing its type or format (a date that becomes a string, a value that may now be null),
making a field required, adding a required field, removing an enumeration value, tightening a
constraint or changing a default. A breaking change of the envelope or of the keys needs new
topics (`marelle.<service>.v2`).

Consumers, for their part, ignore fields and event types they do not know, so that additions
never break them.

The repository guards these rules: `contracts/published/` keeps the last published JSON Schema
of every event version, and the test command compares the code's schemas with them
(`python -m marelle_contracts.compat` reports every breaking change with the event, the field
and what changed). A new event version is published by `python -m marelle_contracts.export`.
"""

_VALIDATE = """\
## Validating messages with the JSON Schemas

The schemas are JSON Schema (draft 2020-12) and check formats (`uuid`, `date`, `date-time`).
They accept fields they do not list, as consumers must. With
[check-jsonschema](https://check-jsonschema.readthedocs.io/) (`pipx install check-jsonschema`),
and [jq](https://jqlang.org/) to take the payload out of a message:

```sh
# the envelope
check-jsonschema --schemafile contracts/schemas/envelope.json message.json
# the payload, against the schema of its event_type and schema_version
jq .payload message.json > payload.json
check-jsonschema --schemafile contracts/schemas/booking.reservation_confirmed.v1.json payload.json
```

Any JSON Schema 2020-12 validator does the same (ajv in JavaScript with `ajv-formats`,
networknt/json-schema-validator in Java, …). The AsyncAPI document
(`contracts/asyncapi.json`) combines both: each message's schema is the envelope with
`event_type` and `schema_version` fixed and the payload's schema inside.
"""


def _events_section() -> list[str]:
    lines = ["## Events", "",
             "One section per event: what it says, where it travels, its payload's fields "
             "(paths such as `children[].first_name` are inside lists, `changes.*.after` inside "
             "maps), and one complete example message.", ""]
    for topic in Topics.all_event_topics():
        specs = [s for s in EVENTS.values() if s.topic == topic]
        if not specs:
            continue
        lines += [f"### Topic `{topic}`", ""]
        for spec in specs:
            schema = spec.model.model_json_schema()
            name = f"{spec.event_type}.v{spec.schema_version}.json"
            lines += [f"#### `{spec.event_type}`", "",
                      spec.summary, "",
                      f"- Version: {spec.schema_version} (schema `contracts/schemas/{name}`)",
                      f"- Topic: `{spec.topic}`; key: `{spec.key_field}`", "",
                      *_field_table(schema), "",
                      "Example:", "",
                      *_json_block(example_message(spec)), ""]
    return lines


_INBOUND = """\
## Inbound topics

Other municipal systems publish facts they own on two topics, with the same envelope and rules
(their own `producer` name, a fresh `event_id` per message, `key` as below); Marelle validates
each message on arrival: one that does not match its schema goes to the topic's DLQ with a
readable reason in its `x-error` header, and never stops the consumer.

| topic | written by | event | key | read by |
|---|---|---|---|---|
| `marelle.inbound.quotient.v1` | the CAF/MSA data connector | `quotient.family_quotient_updated` | `family_id` (or the beneficiary number) | billing: the family's QF, shown on « Mon compte », used by the next invoicing run; an older `qf_date` never replaces a newer one |
| `marelle.inbound.schools.v1` | the schools' system | `schools.child_assigned_to_class` | `child_id` | enrolment: the child's school and class, for age-group checks and lists per class; a later `assigned_on` replaces an earlier one for the same school year |

Their examples are in the sections above, with the other events.
"""


def render() -> str:
    lines = [_INTRO, *_topics_section(), _WIRE.rstrip("\n")]
    lines += [f"| [`{s.event_type}`](#{_anchor(s.event_type)}) | `{s.key_field}` |"
              for s in EVENTS.values()]
    lines += ["", _DELIVERY, *_envelope_section(), _VERSIONS, _COMPAT, _VALIDATE,
              *_events_section(), _INBOUND]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text(encoding="utf-8") != text:
            print(f"{args.output} is out of date; run `python -m marelle_contracts.docs`")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
