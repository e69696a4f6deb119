"""Issue « Interoperability »: another municipal system on the topics, played by kcat.

kcat (Debian's package, librdkafka; not a Python client) publishes a quotient familial from the
CAF/MSA connector, which billing applies (the family's « Mon compte » shows it through the portal's
API), and a school assignment, which enrolment applies (its list per class shows the child). It
then reads billing's topic as an accounting system would: the invoice and payment events of the
family validate against the committed JSON Schemas with `check-jsonschema` (a CLI, fed files).
A message that does not match its schema lands in the DLQ with its reason, and the consumer goes
on with the next one.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from tests.browser.test_identity_journey import eventually
from tests.e2e.test_family_flows import invited_family
from tests.support.infra import ROOT, unavailable

pytestmark = pytest.mark.e2e

SCHEMAS = ROOT / "contracts" / "schemas"


def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        unavailable("kcat", "install Debian's kcat package (./marelle test does it as root)")
    return path


def envelope(event_type: str, producer: str, key: str, payload: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(), "producer": producer,
            "correlation_id": str(uuid.uuid4()), "key": key, "payload": payload}


def produce(bootstrap: str, topic: str, key: str, message: dict | str) -> None:
    value = message if isinstance(message, str) else json.dumps(message)
    subprocess.run([kcat(), "-b", bootstrap, "-P", "-t", topic, "-k", key],
                   input=value.encode(), check=True, timeout=30)


def consume(bootstrap: str, topic: str) -> list[dict]:
    """Every message of a topic from the beginning, as kcat prints it (-J: JSON per message)."""
    out = subprocess.run([kcat(), "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-J", "-q"], check=True, timeout=60, capture_output=True).stdout
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def validate(tmp: Path, schema: Path, documents: list[dict]) -> subprocess.CompletedProcess:
    files = []
    for i, document in enumerate(documents):
        files.append(tmp / f"{schema.stem}-{i}.json")
        files[-1].write_text(json.dumps(document))
    checker = shutil.which("check-jsonschema") or str(ROOT / ".venv" / "bin" / "check-jsonschema")
    return subprocess.run([checker, "--schemafile", str(schema), *map(str, files)],
                          capture_output=True, text=True, timeout=60)


async def test_other_systems_write_and_read_the_topics_with_kcat(stack, staff_client,
                                                                  kafka_bootstrap, tmp_path):
    kcat()
    identity, billing, enrolment = (stack.url(s) for s in ("identity", "billing", "enrolment"))
    email = f"famille.{uuid.uuid4().hex[:8]}@example.org"
    family_id, parent = await invited_family(stack, staff_client, "Famille Garnier", email, [
        {"first_name": "Inès", "last_name": "Garnier", "birth_date": "2019-04-02"}])
    people = (await staff_client.get(f"{identity}/staff/families/{family_id}")).json()
    child_id = next(p["id"] for p in people["family"]["persons"] if p["first_name"] == "Inès")
    await eventually(lambda: staff_client.get(f"{billing}/staff/families/{family_id}"),
                     lambda r: r.status_code == 200)

    # The CAF connector: first a message that is not valid (QF missing), then the real one.
    produce(kafka_bootstrap, "marelle.inbound.quotient.v1", family_id, envelope(
        "quotient.family_quotient_updated", "connecteur-caf", family_id,
        {"family_id": family_id, "qf_date": "2026-10-01", "source": "caf"}))
    produce(kafka_bootstrap, "marelle.inbound.quotient.v1", family_id, envelope(
        "quotient.family_quotient_updated", "connecteur-caf", family_id,
        {"family_id": family_id, "qf": 612, "qf_date": "2026-10-01", "source": "caf"}))
    async with httpx.AsyncClient(timeout=10, headers=parent) as portal:
        account = await eventually(lambda: portal.get(f"{stack.gateway_url}/api/v1/account"),
                                   lambda r: r.status_code == 200 and r.json().get("qf") == 612)
    assert account.json()["qf"] == 612, account.text
    assert account.json()["qf_date"] == "2026-10-01"
    parked = [m for m in consume(kafka_bootstrap, "marelle.inbound.quotient.v1.dlq")
              if m.get("key") == family_id]
    assert len(parked) == 1
    reason = dict(zip(parked[0]["headers"][::2], parked[0]["headers"][1::2]))["x-error"]
    assert "qf" in reason

    # The schools' system: Inès is in CP A at École Jules-Ferry.
    produce(kafka_bootstrap, "marelle.inbound.schools.v1", child_id, envelope(
        "schools.child_assigned_to_class", "ecoles", child_id, {
            "child_id": child_id, "school_year": "2026-2027", "school_id": "0060001A",
            "school_name": "École Jules-Ferry", "class_name": "CP A", "level": "CP",
            "assigned_on": "2026-09-01"}))
    children = await eventually(
        lambda: staff_client.get(f"{enrolment}/staff/classes/children", params={
            "school_year": "2026-2027", "school_id": "0060001A", "class_name": "CP A"}),
        lambda r: r.status_code == 200 and child_id in r.text)
    assert child_id in children.text, children.text

    # An accounting system reads billing's topic: an invoice taken over and a payment.
    regie = {"code": "INTEROP", "name": "Régie Interop"}
    r = await staff_client.post(f"{billing}/staff/regies", json=regie)
    assert r.status_code in (201, 409), r.text
    number = f"F{uuid.uuid4().int % 10**10:010d}"
    r = await staff_client.post(f"{billing}/staff/imports/invoices", json={
        "regie_code": "INTEROP",
        "csv": f"famille;numero;date;montant;solde;libelle\n{family_id};{number};09/04/2014;"
               f"40,00;40,00;Cantine avril\n"})
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    r = await staff_client.post(f"{billing}/staff/payments", json={
        "family_id": family_id, "regie_code": "INTEROP", "method": "especes",
        "amount_cents": 4000, "received_on": date.today().isoformat()})
    assert r.status_code == 201, r.text

    async def family_events() -> list[dict]:
        return [json.loads(m["payload"]) for m in consume(kafka_bootstrap, "marelle.billing.v1")
                if m.get("key") == family_id]

    for _ in range(60):
        events = await family_events()
        if {e["event_type"] for e in events} >= {"billing.invoice_issued",
                                                  "billing.payment_received",
                                                  "billing.invoice_paid"}:
            break
        await asyncio.sleep(0.5)
    by_type: dict[str, list[dict]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)
    assert by_type["billing.invoice_issued"][0]["payload"]["number"] == number
    assert by_type["billing.payment_received"][0]["payload"]["amount_cents"] == 4000
    checked = validate(tmp_path, SCHEMAS / "envelope.json", events)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for event_type in ("billing.invoice_issued", "billing.payment_received",
                       "billing.invoice_paid"):
        checked = validate(tmp_path, SCHEMAS / f"{event_type}.v1.json",
                           [e["payload"] for e in by_type[event_type]])
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # And the validator does refuse a payload that breaks the schema.
    broken = {**by_type["billing.payment_received"][0]["payload"], "amount_cents": "40,00"}
    refused = validate(tmp_path, SCHEMAS / "billing.payment_received.v1.json", [broken])
    assert refused.returncode != 0 and "amount_cents" in refused.stdout + refused.stderr
