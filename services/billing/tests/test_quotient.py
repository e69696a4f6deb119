"""The CAF/MSA connector's quotient (marelle.inbound.quotient.v1): applied to the family's
financial profile when newer, found by household id or beneficiary number, audited; an unknown
household is parked (PermanentError), a redelivery changes nothing."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from marelle_chassis.messaging import PermanentError
from marelle_contracts import new_envelope
from marelle_contracts.identity import BeneficiaryScheme, ContactDetailsChanged
from marelle_contracts.inbound import FamilyQuotientUpdated, QuotientSource
from marelle_billing import handlers
from marelle_billing.db import profile_change

from .conftest import setup_tariffs


def _event(qf: int, qf_date: date, *, family_id: uuid.UUID | None = None,
           number: str | None = None, source: str = "caf") -> object:
    return new_envelope(FamilyQuotientUpdated(
        family_id=family_id, beneficiary_number=number, qf=qf, qf_date=qf_date,
        source=QuotientSource(source)), producer="quotient")


async def _deliver(billing, envelope) -> None:
    await handlers.quotient_events(billing.runtime, billing.clock)(envelope)


async def _account(billing, family) -> dict:
    r = await billing.client.get(f"/families/{family.id}/account", headers=family.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _beneficiary(billing, family, scheme: str | None, number: str) -> None:
    await handlers.identity_events(billing.runtime)(new_envelope(ContactDetailsChanged(
        family_id=family.id, beneficiary_scheme=BeneficiaryScheme(scheme) if scheme else None,
        beneficiary_number=number), producer="identity", version=2))


async def test_newer_quotient_applied_older_ignored_redelivery_once(billing):
    await setup_tariffs(billing)
    family = await billing.family("Durand", ["Léa"])

    first = _event(650, date(2026, 1, 15), family_id=family.id)
    await _deliver(billing, first)
    account = await _account(billing, family)
    assert (account["qf"], account["qf_date"], account["bracket_code"]) == (
        650, "2026-01-15", "T1")

    # The same event delivered again (same event id): applied once.
    await _deliver(billing, first)
    # An older quotient arriving late never replaces the newer one.
    await _deliver(billing, _event(1500, date(2025, 9, 1), family_id=family.id))
    account = await _account(billing, family)
    assert (account["qf"], account["qf_date"], account["bracket_code"]) == (
        650, "2026-01-15", "T1")

    # A newer one does, bracket included; the same date with the same value is nothing new.
    billing.clock.set(billing.clock().replace(hour=11))
    await _deliver(billing, _event(1500, date(2026, 6, 1), family_id=family.id, source="msa"))
    await _deliver(billing, _event(1500, date(2026, 6, 1), family_id=family.id, source="msa"))
    account = await _account(billing, family)
    assert (account["qf"], account["qf_date"], account["bracket_code"]) == (
        1500, "2026-06-01", "T3")

    r = await billing.client.get(f"/staff/families/{family.id}/profile", headers=billing.staff)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and body["qf_source"] == "msa"
    assert [(h["source"], h["changed_by"], h["reason"], h["before"]["qf"], h["after"]["qf"])
            for h in body["history"]] == [
        ("msa", None, "Mise à jour automatique (connecteur CAF/MSA)", 650, 1500),
        ("caf", None, "Mise à jour automatique (connecteur CAF/MSA)", None, 650)]
    assert len(await billing.rows(profile_change, profile_change.c.family_id == family.id)) == 2


async def test_same_date_other_value_replaces_and_keeps_staff_fields(billing):
    family = await billing.family("Martin", ["Tom"])
    r = await billing.client.put(f"/staff/families/{family.id}/profile", headers=billing.staff,
                                 json={"qf": 900, "qf_date": "2026-03-01", "qf_source": "caf",
                                       "income_cents": 2_500_000, "resident": False})
    assert r.status_code == 200, r.text
    await _deliver(billing, _event(950, date(2026, 3, 1), family_id=family.id))
    r = await billing.client.get(f"/staff/families/{family.id}/profile", headers=billing.staff)
    body = r.json()
    # Only the quotient changes: what staff entered otherwise stays.
    assert (body["qf"], body["income_cents"], body["resident"], body["version"]) == (
        950, 2_500_000, False, 2)


async def test_found_by_beneficiary_number_of_the_right_scheme(billing):
    caf = await billing.family("Bernard", ["Jade"])
    msa = await billing.family("Petit", ["Noé"])
    await _beneficiary(billing, caf, "CAF", "1234567")
    await _beneficiary(billing, msa, "MSA", "7654321")

    await _deliver(billing, _event(480, date(2026, 2, 1), number="1234567", source="caf"))
    assert (await _account(billing, caf))["qf"] == 480
    await _deliver(billing, _event(1200, date(2026, 2, 1), number="7654321", source="msa"))
    assert (await _account(billing, msa))["qf"] == 1200

    # The CAF number of a household declared with the MSA matches nobody: parked.
    with pytest.raises(PermanentError) as caught:
        await _deliver(billing, _event(300, date(2026, 4, 1), number="7654321", source="caf"))
    assert "aucun foyer" in str(caught.value) and "no household" in str(caught.value)
    assert (await _account(billing, msa))["qf"] == 1200


async def test_unknown_household_is_parked_without_writing(billing):
    stranger = uuid.uuid4()
    with pytest.raises(PermanentError) as caught:
        await _deliver(billing, _event(500, date(2026, 1, 1), family_id=stranger))
    assert str(stranger) in str(caught.value) and "Foyer inconnu" in str(caught.value)
    with pytest.raises(PermanentError):
        await _deliver(billing, _event(500, date(2026, 1, 1), number="000"))
    assert await billing.rows(profile_change) == []
