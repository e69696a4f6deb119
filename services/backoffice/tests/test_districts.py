"""« Quartiers » (issue #10, districts at different times): the list kept in billing (add,
rename, delete), a household's « Quartier » on its financial profile, and one opening per
district on the period form, the districts read from billing when the form is shown."""

from __future__ import annotations

import copy
import json

import httpx

from .billing_fake import DISTRICTS, FAMILY_ID, refusal, with_billing
from .conftest import post_form, sign_in
from .enrolment_sample import ACTIVITY_ID, CATALOGUE, PERIOD_ID
from .test_catalogue import PERIOD_FORM, created

PAGE = "/facturation/quartiers"
FINANCES = f"/familles/{FAMILY_ID}/finances"


def _sent(fake, method: str, service: str, path: str) -> list:
    return [json.loads(r.content) for r in fake.sent(method, service, path)]


async def test_the_districts_page_lists_adds_renames_and_deletes(backoffice, fake):
    with_billing(fake)
    fake.on("POST", "billing", "/staff/districts",
            httpx.Response(201, json={"code": "centre-ville", "label": "Centre-Ville",
                                      "households": 0}))
    fake.on("PUT", "billing", "/staff/districts/sud",
            {"code": "sud", "label": "Sud-Ouest", "households": 0})
    fake.on("DELETE", "billing", "/staff/districts/sud", httpx.Response(204))
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(PAGE)
        added = await post_form(client, PAGE, {"quartier-libelle": "Centre-Ville",
                                               "quartier-code": ""})
        renamed = await client.post(f"{PAGE}/sud/renommer", data={
            "csrf": _csrf(page.text), "libelle-sud": "Sud-Ouest"})
        deleted = await client.post(f"{PAGE}/sud/supprimer", data={"csrf": _csrf(page.text)})
        index = await client.get("/facturation")
    assert page.status_code == 200
    assert "<h1>Quartiers</h1>" in page.text
    assert '<th scope="row">Nord</th>' in page.text and "<code>nord</code>" in page.text
    assert "<td>12</td>" in page.text  # households in Nord
    # The code is proposed from the name when none is typed.
    assert added.status_code == 303 and added.headers["location"].startswith(f"{PAGE}?message=cree")
    assert _sent(fake, "POST", "billing", "/staff/districts") == [
        {"code": "centre-ville", "label": "Centre-Ville"}]
    assert renamed.status_code == deleted.status_code == 303
    assert _sent(fake, "PUT", "billing", "/staff/districts/sud") == [{"label": "Sud-Ouest"}]
    assert len(fake.sent("DELETE", "billing", "/staff/districts/sud")) == 1
    assert 'href="/facturation/quartiers"' in index.text


def _csrf(html: str) -> str:
    import re

    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_deleting_a_district_in_use_says_why_and_a_bad_name_stays_by_its_field(backoffice,
                                                                                   fake):
    with_billing(fake)
    fake.on("DELETE", "billing", "/staff/districts/nord", refusal(
        "Des foyers sont rattachés à ce quartier : changez d'abord leur quartier (profil "
        "financier) avant de le supprimer.", status=409))
    fake.on("POST", "billing", "/staff/districts", refusal(
        "Un quartier porte déjà ce code ou ce nom.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(PAGE)
        refused = await client.post(f"{PAGE}/nord/supprimer", data={"csrf": _csrf(page.text)})
        empty = await post_form(client, PAGE, {"quartier-libelle": "", "quartier-code": ""})
        taken = await post_form(client, PAGE, {"quartier-libelle": "Nord", "quartier-code": ""})
        bad = await post_form(client, PAGE, {"quartier-libelle": "Est",
                                             "quartier-code": "Est Ville"})
    assert refused.status_code == 409
    assert "Des foyers sont rattachés à ce quartier" in refused.text
    assert empty.status_code == 422
    assert '<a href="#quartier-libelle">Saisissez le nom du quartier.</a>' in empty.text
    assert taken.status_code == 409 and "Un quartier porte déjà ce code ou ce nom." in taken.text
    assert bad.status_code == 422 and '<a href="#quartier-code">' in bad.text
    assert len(fake.sent("POST", "billing", "/staff/districts")) == 1  # only « Nord » was sent


async def test_the_profile_form_has_a_district_select_and_sends_it(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(FINANCES)
        response = await client.post(f"{FINANCES}/profil", data={
            "csrf": _csrf(page.text), "profil-qf": "712", "profil-resident": "oui",
            "profil-quartier": "nord"})
    assert '<label for="profil-quartier">Quartier</label>' in page.text
    assert '<option value="nord">Nord</option>' in page.text
    assert '<option value="" selected>Aucun quartier</option>' in page.text
    assert response.status_code == 303
    [body] = _sent(fake, "PUT", "billing", f"/staff/families/{FAMILY_ID}/profile")
    assert body["district"] == "nord" and body["resident"] is True


def _catalogue(fake, openings: list | None = None):
    catalogue = copy.deepcopy(CATALOGUE)
    period = catalogue["facilities"][0]["activity_types"][0]["activities"][0]["periods"][0]
    period["district_openings"] = openings or []
    fake.on("GET", "enrolment", "/staff/catalogue", catalogue)
    return fake


NEW_PERIOD = f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle"


async def test_the_period_form_has_one_opening_per_district_and_sends_them(backoffice, fake):
    fake.on("GET", "billing", "/staff/districts", DISTRICTS)
    fake.on("POST", "enrolment", "/staff/periods", created)
    async with backoffice(_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(NEW_PERIOD)
        response = await client.post(NEW_PERIOD, data={
            "csrf": _csrf(page.text), **PERIOD_FORM, "quartiers": ["nord", "sud"],
            "quartier-nord-libelle": "Nord", "quartier-sud-libelle": "Sud",
            "quartier-nord-date": "28/09/2016", "quartier-nord-heure": "8:00",
            "quartier-sud-date": "", "quartier-sud-heure": ""})
    assert "<legend>Ouverture quartier Nord</legend>" in page.text
    assert "<legend>Ouverture quartier Sud</legend>" in page.text
    assert 'id="quartier-nord-date" name="quartier-nord-date" type="text" value=""' in page.text
    assert response.status_code == 303, response.text
    [body] = _sent(fake, "POST", "enrolment", "/staff/periods")
    assert body["district_openings"] == [{"district": "nord", "district_label": "Nord",
                                          "opens_at": "2016-09-28T08:00:00+02:00"}]


async def test_editing_keeps_the_district_openings_even_when_billing_is_down(backoffice, fake):
    """Billing unreachable: the form still works, says so, and shows the period's own."""
    fake.on("PUT", "enrolment", f"/staff/periods/{PERIOD_ID}", httpx.Response(204))
    _catalogue(fake, [{"district": "nord", "district_label": "Nord",
                       "opens_at": "2016-09-28T06:00:00+00:00"}])
    fake.on("GET", "billing", "/staff/districts", httpx.Response(503))
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/periodes/{PERIOD_ID}/modifier")
        new = await client.get(NEW_PERIOD)
    assert page.status_code == new.status_code == 200
    assert "La liste des quartiers est momentanément indisponible" in page.text
    assert "La liste des quartiers est momentanément indisponible" in new.text
    assert 'id="quartier-nord-date" name="quartier-nord-date" type="text" value="28/09/2016"' \
        in page.text
    assert 'id="quartier-nord-heure" name="quartier-nord-heure" type="text" value="08:00"' \
        in page.text
    assert "quartier-nord" not in new.text


async def test_a_district_opening_after_the_opening_to_all_is_refused_by_its_field(backoffice,
                                                                                   fake):
    fake.on("GET", "billing", "/staff/districts", DISTRICTS)
    async with backoffice(_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(NEW_PERIOD)
        response = await client.post(NEW_PERIOD, data={
            "csrf": _csrf(page.text), **PERIOD_FORM, "quartiers": ["sud"],
            "quartier-sud-libelle": "Sud", "quartier-sud-date": "02/10/2016",
            "quartier-sud-heure": "08:00"})
    assert response.status_code == 422
    assert ('<a href="#quartier-sud-date">L&#39;ouverture du quartier Sud doit précéder '
            "l&#39;ouverture à tous.</a>") in response.text
    assert not fake.sent("POST", "enrolment", "/staff/periods")


async def test_the_catalogue_shows_the_district_openings(backoffice, fake):
    _catalogue(fake, [{"district": "nord", "district_label": "Nord",
                       "opens_at": "2016-09-28T06:00:00+00:00"}])
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get("/catalogue")
    assert "<dt>Ouvertures par quartier</dt>" in page.text
    assert "quartier Nord dès le 28/09/2016" in page.text
