"""The period form's « Ouverture aux résidents » (issue #10, residents first): typed in Paris time,
sent to enrolment as `residents_open_at`, shown again when editing, checked before the opening
to all."""

from __future__ import annotations

import copy
import json

import httpx

from .conftest import post_form, problem, sign_in
from .enrolment_sample import ACTIVITY_ID, CATALOGUE, PERIOD_ID
from .test_catalogue import NEW_ID, PERIOD_FORM, created


def with_residents(fake, at: str | None):
    catalogue = copy.deepcopy(CATALOGUE)
    period = catalogue["facilities"][0]["activity_types"][0]["activities"][0]["periods"][0]
    assert period["id"] == PERIOD_ID
    period["residents_open_at"] = at
    fake.on("GET", "enrolment", "/staff/catalogue", catalogue)
    return fake


async def test_creating_a_period_with_a_residents_opening_sends_it(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/periods", created)
    async with backoffice(with_residents(fake, None)) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle")
        response = await post_form(client, f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                                   {**PERIOD_FORM, "residents-date": "28/09/2016",
                                    "residents-heure": "8:00"})
    assert "<legend>Ouverture aux résidents (facultatif)</legend>" in page.text
    assert 'id="residents-date" name="residents-date" type="text" value=""' in page.text
    [sent] = fake.sent("POST", "enrolment", "/staff/periods")
    body = json.loads(sent.content)
    assert body["residents_open_at"] == "2016-09-28T08:00:00+02:00"  # Paris, summer time
    assert body["priority_opens_at"] is None
    assert response.headers["location"] == f"/catalogue?message=periode_creee#periode-{NEW_ID}"


async def test_editing_shows_the_residents_opening_and_can_clear_it(backoffice, fake):
    fake.on("PUT", "enrolment", f"/staff/periods/{PERIOD_ID}", httpx.Response(204))
    async with backoffice(with_residents(fake, "2016-09-28T06:00:00+00:00")) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/periodes/{PERIOD_ID}/modifier")
        kept = await post_form(client, f"/catalogue/periodes/{PERIOD_ID}/modifier",
                               {**PERIOD_FORM, "residents-date": "28/09/2016",
                                "residents-heure": "08:00"})
        cleared = await post_form(client, f"/catalogue/periodes/{PERIOD_ID}/modifier", PERIOD_FORM)
    for field_id, value in (("residents-date", "28/09/2016"), ("residents-heure", "08:00")):
        assert f'id="{field_id}" name="{field_id}" type="text" value="{value}"' in page.text
    assert kept.status_code == cleared.status_code == 303
    first, second = fake.sent("PUT", "enrolment", f"/staff/periods/{PERIOD_ID}")
    assert json.loads(first.content)["residents_open_at"] == "2016-09-28T08:00:00+02:00"
    # The PUT replaces the whole period: without the field, enrolment clears it.
    assert "residents_open_at" not in json.loads(second.content)


async def test_a_residents_opening_after_the_opening_to_all_is_refused_by_its_field(backoffice,
                                                                                     fake):
    async with backoffice(with_residents(fake, None)) as client:
        sign_in(client)
        response = await post_form(client, f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                                   {**PERIOD_FORM, "residents-date": "02/10/2016",
                                    "residents-heure": "08:00"})
        half = await post_form(client, f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                               {**PERIOD_FORM, "residents-date": "28/09/2016"})
    assert response.status_code == 422
    assert ('<a href="#residents-date">L&#39;ouverture aux résidents doit précéder '
            "l&#39;ouverture à tous.</a>") in response.text
    assert '<a href="#residents-heure">Saisissez l&#39;heure d&#39;ouverture aux résidents' in \
        half.text
    assert not fake.sent("POST", "enrolment", "/staff/periods")


async def test_enrolment_field_error_on_residents_open_at_lands_by_the_field(backoffice, fake):
    message = "L'ouverture aux résidents doit précéder l'ouverture à tous."
    fake.on("POST", "enrolment", "/staff/periods", problem(
        422, message, [{"champ": "residents_open_at", "message": message}]))
    async with backoffice(with_residents(fake, None)) as client:
        sign_in(client)
        response = await post_form(client, f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                                   {**PERIOD_FORM, "residents-date": "28/09/2016",
                                    "residents-heure": "08:00"})
    assert response.status_code == 422
    assert '<a href="#residents-date">L&#39;ouverture aux résidents doit' in response.text


async def test_the_catalogue_shows_the_residents_opening_and_its_priority_window(backoffice,
                                                                              fake):
    """While only priority families may ask (residents here), the tree says so."""
    from datetime import UTC, datetime, timedelta

    catalogue = copy.deepcopy(CATALOGUE)
    period = catalogue["facilities"][0]["activity_types"][0]["activities"][0]["periods"][0]
    now = datetime.now(UTC)
    period.update({"residents_open_at": (now - timedelta(hours=1)).isoformat(),
                   "priority_opens_at": None, "closed": False,
                   "opens_at": (now + timedelta(days=1)).isoformat(),
                   "closes_at": (now + timedelta(days=8)).isoformat()})
    fake.on("GET", "enrolment", "/staff/catalogue", catalogue)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get("/catalogue")
    assert "<dt>Ouverture aux résidents</dt>" in page.text
    assert "pour les familles résidant dans la commune" in page.text
    assert "Ouvertes aux prioritaires (familles déjà inscrites ou résidentes)" in page.text
