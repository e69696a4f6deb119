"""Issue #11: a household created by online sign-up stays « à vérifier »; when the city wants it
(ENROLMENT_REFUSE_UNREVIEWED_FAMILIES), its registration requests are refused until staff have
reviewed it. What enrolment knows comes from identity's events (`FamilyCreated.needs_review`)."""

from __future__ import annotations

import uuid

import pytest

from marelle_chassis.copies import event_version
from marelle_contracts import new_envelope
from marelle_contracts.identity import ChildFacts, FamilyCreated, FamilyReviewed
from marelle_enrolment import handlers
from services.enrolment.tests.conftest import Family, born_years_ago
from tests.support import tokens

pytestmark = pytest.mark.postgres


async def signed_up_family(enrolment, name: str, *, needs_review: bool = True,
                           version: int = 1) -> Family:
    family_id = uuid.uuid4()
    child = ChildFacts(child_id=uuid.uuid4(), first_name="Léa", last_name=name,
                       birth_date=born_years_ago(7))
    event = FamilyCreated(family_id=family_id, name=f"Famille {name}", children=[child],
                          needs_review=needs_review)
    await handlers.identity_events(enrolment.app.state.runtime)(
        new_envelope(event, producer="identity", version=version))
    return Family(family_id, {"Léa": child.child_id}, tokens.parent(family_id))


async def reviewed(enrolment, family: Family, version: int = 2) -> None:
    """Identity's `family_reviewed` event, through enrolment's real handler."""
    await handlers.identity_events(enrolment.app.state.runtime)(new_envelope(
        FamilyReviewed(family_id=family.id, reviewed_by=uuid.uuid4()), producer="identity",
        version=version))


@pytest.fixture
def refuse_unreviewed(enrolment):
    enrolment.app.state.settings.refuse_unreviewed_families = True
    yield
    enrolment.app.state.settings.refuse_unreviewed_families = False


async def test_unreviewed_family_is_refused_until_staff_review_it(enrolment, refuse_unreviewed):
    ids = await enrolment.catalogue(validation="automatique")
    family = await signed_up_family(enrolment, "Neuve")
    r = await enrolment.request(family, "Léa", ids["group"])
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith("Votre espace famille est en cours de vérification")
    listed = await enrolment.client.get(f"/families/{family.id}/registrations",
                                        headers=family.headers)
    assert listed.json()["items"] == []

    await reviewed(enrolment, family)
    r = await enrolment.request(family, "Léa", ids["group"])
    assert r.status_code == 201, r.text
    assert r.json()["results"][0]["ok"] is True


async def test_a_replayed_creation_does_not_undo_the_review(enrolment, refuse_unreviewed):
    ids = await enrolment.catalogue(validation="automatique")
    family = await signed_up_family(enrolment, "Rejouée")
    await reviewed(enrolment, family)
    # FamilyCreated (version 1) delivered again after the review (version 2): still reviewed.
    child = ChildFacts(child_id=family.children["Léa"], first_name="Léa", last_name="Rejouée",
                       birth_date=born_years_ago(7))
    again = new_envelope(FamilyCreated(family_id=family.id, name="Famille Rejouée",
                                       children=[child], needs_review=True),
                         producer="identity", version=1)
    assert event_version(again) == 1
    await handlers.identity_events(enrolment.app.state.runtime)(again)
    r = await enrolment.request(family, "Léa", ids["group"])
    assert r.status_code == 201, r.text


async def test_staff_created_households_are_never_held(enrolment, refuse_unreviewed):
    ids = await enrolment.catalogue(validation="automatique")
    family = await signed_up_family(enrolment, "Mairie", needs_review=False)
    r = await enrolment.request(family, "Léa", ids["group"])
    assert r.status_code == 201, r.text


async def test_by_default_the_city_does_not_hold_unreviewed_families(enrolment):
    assert enrolment.app.state.settings.refuse_unreviewed_families is False
    ids = await enrolment.catalogue(validation="automatique")
    family = await signed_up_family(enrolment, "Libre")
    r = await enrolment.request(family, "Léa", ids["group"])
    assert r.status_code == 201, r.text


async def test_an_unreviewed_family_gets_no_ticket_at_an_opening_either(enrolment,
                                                                         refuse_unreviewed):
    ids = await enrolment.catalogue(validation="automatique")
    family = await signed_up_family(enrolment, "Pressée")
    ask = {"group_id": str(ids["group"]), "child_ids": [str(family.children["Léa"])]}
    headers = {**family.headers, "Idempotency-Key": "ouverture-0001"}
    r = await enrolment.client.post(f"/families/{family.id}/tickets", json=ask, headers=headers)
    assert r.status_code == 409 and r.json()["raison"] == "foyer_a_verifier", r.text
    await reviewed(enrolment, family)
    r = await enrolment.client.post(f"/families/{family.id}/tickets", json=ask, headers=headers)
    assert r.status_code == 202, r.text
