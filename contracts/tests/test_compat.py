"""The compatibility gate: today's schemas against the last published ones."""

import copy
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, create_model

from marelle_contracts import booking, compat, export
from marelle_contracts.export import DEFAULT_ROOT, PUBLISHED_DIR

PUBLISHED = DEFAULT_ROOT / PUBLISHED_DIR


def published(file: str) -> dict[str, Any]:
    return json.loads((PUBLISHED / file).read_text(encoding="utf-8"))


def with_schema(subject: str, schema: dict[str, Any]) -> list[compat.Contract]:
    """Today's contracts, one of them replaced by `schema`."""
    contracts = compat.current_contracts()
    assert subject in {c.subject for c in contracts}
    return [replace(c, schema=schema) if c.subject == subject else c for c in contracts]


def copy_of_contracts(tmp_path: Path) -> Path:
    """A contracts directory whose published/ is a copy of the repository's."""
    root = tmp_path / "contracts"
    shutil.copytree(PUBLISHED, root / PUBLISHED_DIR)
    return root


def test_the_repository_is_compatible_with_what_it_published():
    result = compat.check()
    assert result.errors == [], "\n".join(result.errors)


def test_every_event_version_and_the_envelope_are_published():
    files = {p.name for p in PUBLISHED.glob("*.json")}
    assert {c.file for c in compat.current_contracts()} == files
    assert "booking.reservation_confirmed.v1.json" in files and "envelope.json" in files


def test_the_cli_passes_on_the_repository():
    done = subprocess.run([sys.executable, "-m", "marelle_contracts.compat"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -- breaking changes, made on a temporary copy of a real published schema ----------------------


def _retype_day(s: dict[str, Any]) -> None:
    s["properties"]["day"] = {"type": "integer", "title": "Day"}


def _remove_unit_label(s: dict[str, Any]) -> None:
    del s["properties"]["unit_label"]
    s["required"].remove("unit_label")


def _add_required_room(s: dict[str, Any]) -> None:
    s["properties"]["room"] = {"type": "string"}
    s["required"].append("room")


def _require_email(s: dict[str, Any]) -> None:
    s["required"].append("email")


def _birth_date_as_plain_string(s: dict[str, Any]) -> None:
    del s["$defs"]["ChildFacts"]["properties"]["birth_date"]["format"]


def _drop_cancelled_status(s: dict[str, Any]) -> None:
    s["$defs"]["ReservationStatus"]["enum"].remove("annulee")


def _month_no_longer_nullable(s: dict[str, Any]) -> None:
    s["properties"]["month"] = {"type": "string"}


def _change_after_type(s: dict[str, Any]) -> None:
    s["$defs"]["FieldChange"]["properties"]["after"]["anyOf"][0] = {"type": "integer"}


BREAKING = [
    ("booking.reservation_confirmed", _retype_day,
     "field `day` changed type from string(date) to integer"),
    ("booking.reservation_confirmed", _remove_unit_label, "field `unit_label` was removed"),
    ("booking.reservation_confirmed", _add_required_room,
     "field `room` was added as a required field (string)"),
    ("identity.family_created", _require_email, "field `email` became required"),
    ("identity.family_created", _birth_date_as_plain_string,
     "field `children[].birth_date` changed type from string(date) to string"),
    ("booking.reservation_confirmed", _drop_cancelled_status,
     "field `status` lost enum values `annulee`"),
    ("billing.invoice_issued", _month_no_longer_nullable,
     "field `month` changed type from string | null to string"),
    ("identity.contact_change_requested", _change_after_type,
     "field `changes.*.after` changed type from string | null to integer | null"),
]


@pytest.mark.parametrize(("event_type", "mutate", "expected"), BREAKING,
                         ids=[m.__name__.strip("_") for _, m, _ in BREAKING])
def test_a_breaking_change_fails_the_gate_naming_the_event_and_the_field(event_type, mutate,
                                                                         expected):
    schema = copy.deepcopy(published(f"{event_type}.v1.json"))
    mutate(schema)
    result = compat.check(contracts=with_schema(f"{event_type} v1", schema))
    assert result.breaking, f"the gate let {mutate.__name__} through"
    message = next((m for m in result.breaking if expected in m), None)
    assert message is not None, result.breaking
    assert message.startswith(f"{event_type} v1: ")
    assert message.endswith(f"a breaking change needs a new version ({event_type} v2)")
    assert result.errors  # the test command fails


def test_a_retyped_pydantic_field_fails_the_gate():
    changed = create_model("ReservationConfirmed", __base__=booking.ReservationConfirmed,
                           day=(int, Field(description="Day. — Jour.")))
    result = compat.check(contracts=with_schema("booking.reservation_confirmed v1",
                                                changed.model_json_schema()))
    assert result.breaking == [
        "booking.reservation_confirmed v1: field `day` changed type from string(date) to integer"
        " — a breaking change needs a new version (booking.reservation_confirmed v2)"]


def test_a_new_required_pydantic_field_fails_and_a_new_optional_one_does_not():
    required = create_model("ReservationConfirmed", __base__=booking.ReservationConfirmed,
                            room=(str, Field(description="Room. — Salle.")))
    result = compat.check(contracts=with_schema("booking.reservation_confirmed v1",
                                                required.model_json_schema()))
    assert any("field `room` was added as a required field" in m for m in result.breaking)

    optional = create_model("ReservationConfirmed", __base__=booking.ReservationConfirmed,
                            room=(str | None, Field(default=None, description="Room. — Salle.")))
    result = compat.check(contracts=with_schema("booking.reservation_confirmed v1",
                                                optional.model_json_schema()))
    assert result.breaking == []
    assert result.pending == [
        "booking.reservation_confirmed v1: field `room` was added as an optional field "
        "(string | null) — compatible, not yet recorded: run "
        "`python -m marelle_contracts.compat --accept`"]


def test_a_breaking_change_to_the_envelope_needs_new_topics():
    schema = copy.deepcopy(published("envelope.json"))
    schema["required"].append("causation_id")
    result = compat.check(contracts=with_schema("envelope", schema))
    assert result.breaking == [
        "envelope: field `causation_id` became required — a breaking change to the envelope "
        "needs new topics (marelle.<service>.v2)"]


def test_documentation_is_not_part_of_compatibility():
    schema = copy.deepcopy(published("identity.family_created.v1.json"))
    schema["description"] = "Autre chose."
    schema["properties"]["name"]["description"] = "Name. — Nom."
    schema["properties"]["name"]["title"] = "Nom"
    schema["properties"]["name"]["examples"] = ["Famille Martin"]
    schema["$defs"]["ChildFacts"]["properties"]["first_name"]["x-description-fr"] = "Prénom"
    assert compat.compare_schemas(published("identity.family_created.v1.json"), schema) == []


def test_accept_records_compatible_changes_and_refuses_breaking_ones(tmp_path):
    root = copy_of_contracts(tmp_path)
    target = "booking.reservation_confirmed.v1.json"
    added = copy.deepcopy(published(target))
    added["properties"]["room"] = {"anyOf": [{"type": "string"}, {"type": "null"}],
                                   "default": None}
    contracts = with_schema("booking.reservation_confirmed v1", added)
    assert compat.check(root, contracts).pending
    assert compat.accept(root, contracts) == []
    assert compat.check(root, contracts).errors == []
    assert "room" in json.loads((root / PUBLISHED_DIR / target).read_text())["properties"]

    removed = copy.deepcopy(added)
    del removed["properties"]["room"]
    contracts = with_schema("booking.reservation_confirmed v1", removed)
    before = (root / PUBLISHED_DIR / target).read_text()
    refused = compat.accept(root, contracts)
    assert refused == ["booking.reservation_confirmed v1: field `room` was removed — a breaking "
                       "change needs a new version (booking.reservation_confirmed v2)"]
    assert (root / PUBLISHED_DIR / target).read_text() == before


def test_a_new_event_version_is_published_by_export_which_never_overwrites(tmp_path):
    root = copy_of_contracts(tmp_path)
    (root / PUBLISHED_DIR / "booking.roll_call_locked.v1.json").unlink()
    tampered = root / PUBLISHED_DIR / "booking.reservation_confirmed.v1.json"
    tampered.write_text(tampered.read_text().replace('"date"', '"date-time"'))

    errors = compat.check(root).errors
    assert any(m.startswith("booking.roll_call_locked v1: no published schema") and
               "python -m marelle_contracts.export" in m for m in errors), errors
    assert "published/booking.roll_call_locked.v1.json" in export.differences(root)

    assert export.write(root) == ["published/booking.roll_call_locked.v1.json"]
    assert (root / PUBLISHED_DIR / "booking.roll_call_locked.v1.json").read_text() == \
        (DEFAULT_ROOT / "schemas" / "booking.roll_call_locked.v1.json").read_text()
    assert '"date-time"' in tampered.read_text()  # an existing snapshot is never overwritten
    errors = compat.check(root).errors
    assert errors == ["booking.reservation_confirmed v1: field `day` changed type from "
                      "string(date-time) to string(date) — a breaking change needs a new version "
                      "(booking.reservation_confirmed v2)"]


def test_a_published_event_that_disappears_is_reported(tmp_path):
    root = copy_of_contracts(tmp_path)
    shutil.copy(PUBLISHED / "booking.shuttle_booked.v1.json",
                root / PUBLISHED_DIR / "booking.shuttle_reserved.v1.json")
    withdrawn = compat.check(root).withdrawn
    assert len(withdrawn) == 1
    assert withdrawn[0].startswith("booking.shuttle_reserved.v1: published but no longer produced")


def test_the_cli_exits_1_with_the_messages(tmp_path, capsys):
    root = copy_of_contracts(tmp_path)
    snapshot = root / PUBLISHED_DIR / "booking.reservation_confirmed.v1.json"
    schema = json.loads(snapshot.read_text())
    schema["properties"]["unit_code"] = schema["properties"]["unit"]
    schema["required"].append("unit_code")
    snapshot.write_text(json.dumps(schema))
    assert compat.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "booking.reservation_confirmed v1: field `unit_code` was removed — a breaking change " \
           "needs a new version (booking.reservation_confirmed v2)" in out
    assert compat.main(["--root", str(root), "--accept"]) == 1  # never records a breaking one
    assert "unit_code" in snapshot.read_text()
