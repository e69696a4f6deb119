"""The enrolment catalogue: the tree, and the forms that create, change and close its nodes."""

from __future__ import annotations

import json
import re

import httpx

from .conftest import csrf_of, post_form, problem, sign_in
from .enrolment_sample import (
    ACTIVITY_ID,
    CATALOGUE,
    CLOSED_PERIOD_ID,
    FACILITY_ID,
    FULL_GROUP_ID,
    GROUP_ID,
    NURSERY_ID,
    PERIOD_ID,
    TYPE_ID,
)

NEW_ID = "12345678-1234-4234-8234-123456789abc"


def with_catalogue(fake):
    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    return fake


def created(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": NEW_ID})


async def test_catalogue_shows_the_tree_with_periods_and_groups(backoffice, fake):
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        response = await client.get("/catalogue")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Catalogue des activités</h1>" in html
    assert re.findall(r'<nav class="site-nav".*?aria-current="page">([^<]+)</a>', html,
                      re.S) == ["Inscriptions"]
    assert re.search(r'<a href="/catalogue" aria-current="page">Catalogue des activités</a>', html)
    # The levels, each named in words before its name.
    for level, name in (("Équipement", "CENTRE DE LOISIRS ALSH"),
                        ("Type d&#39;activité", "Mercredi, vacances"), ("Activité", "AUTOMNE"),
                        ("Période", "Automne 2016")):
        assert f'<span class="level">{level} :</span> {name}' in html
    assert "Préinscription (petite enfance)" in html  # CRÈCHE
    # The period's facts, date-times in Paris.
    assert "du 20/10/2016 au 03/11/2016" in html
    assert "du 01/10/2016 00:00 au 15/10/2016 18:00" in html
    assert "dès le 25/09/2016 08:00 pour les familles déjà inscrites" in html
    assert "Validation par la structure" in html and "Promotion automatique" in html
    assert "Attention les inscriptions sont a la semaine:\nSem 1" in html
    assert "Terminées" in html  # 2016's window is over
    # The closed period: marked in words, no « Clôturer » link any more.
    assert "Clôturée</span>" in html
    assert f'/catalogue/periodes/{PERIOD_ID}/cloture"' in html
    assert f'/catalogue/periodes/{CLOSED_PERIOD_ID}/cloture"' not in html
    # Groups: an accessible table per period.
    assert '<caption id="groupes-' + PERIOD_ID + '">Groupes de la période AUTOMNE - Automne 2016' \
        in html
    for header in ("Groupe", "Âges", "Capacité", "Places prises", "Places restantes",
                   "Liste d&#39;attente", "État"):
        assert f'<th scope="col">{header}</th>' in html
    assert '<th scope="row">6-8 ans Rémond</th>' in html and "de 6 à 8 ans" in html
    assert (f'<a href="/groupes/{FULL_GROUP_ID}/liste-attente">Liste d&#39;attente (3)'
            in html)
    assert f'<a href="/groupes/{GROUP_ID}/liste-attente">Liste d&#39;attente (0)' in html
    assert '<span class="status status-warn">Complet</span>' in html
    # Every creation and edit is reachable.
    for link in ("/catalogue/equipements/nouveau",
                 f"/catalogue/equipements/{FACILITY_ID}/types/nouveau",
                 f"/catalogue/types/{TYPE_ID}/activites/nouvelle",
                 f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                 f"/catalogue/periodes/{PERIOD_ID}/modifier",
                 f"/catalogue/periodes/{PERIOD_ID}/groupes/nouveau",
                 f"/catalogue/groupes/{GROUP_ID}/modifier"):
        assert f'href="{link}"' in html, link


async def test_creating_a_facility_posts_its_name_and_returns_to_the_catalogue(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/facilities", created)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post_form(client, "/catalogue/equipements/nouveau",
                                   {"nom": "  CENTRE DE LOISIRS ALSH "})
    [sent] = fake.sent("POST", "enrolment", "/staff/facilities")
    assert json.loads(sent.content) == {"name": "CENTRE DE LOISIRS ALSH"}
    assert sent.headers["authorization"].startswith("Bearer ")
    assert response.status_code == 303
    assert response.headers["location"] == \
        f"/catalogue?message=equipement_cree#equipement-{NEW_ID}"


async def test_a_duplicate_facility_name_is_shown_by_the_field(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/facilities",
            problem(409, "Un équipement porte déjà ce nom."))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post_form(client, "/catalogue/equipements/nouveau", {"nom": "CENTRE"})
    html = response.text
    assert response.status_code == 409
    assert '<a href="#nom">Un équipement porte déjà ce nom.</a>' in html
    assert re.search(r'id="nom" name="nom" type="text" value="CENTRE"[^>]*aria-invalid="true"',
                     html)


async def test_an_empty_name_is_flagged_without_calling_enrolment(backoffice, fake):
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        response = await post_form(client, f"/catalogue/equipements/{FACILITY_ID}/types/nouveau",
                                   {"nom": " "})
    assert response.status_code == 422
    assert '<a href="#nom">Saisissez le nom du type d&#39;activité.</a>' in response.text
    assert "CENTRE DE LOISIRS ALSH" in response.text  # the context is shown again
    assert not fake.sent("POST", "enrolment", "/staff/activity-types")


async def test_creating_an_activity_type_and_an_activity(backoffice, fake):
    with_catalogue(fake)
    fake.on("POST", "enrolment", "/staff/activity-types", created)
    fake.on("POST", "enrolment", "/staff/activities", created)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/types/{TYPE_ID}/activites/nouvelle")
        csrf = await csrf_of(client, f"/catalogue/equipements/{FACILITY_ID}/types/nouveau")
        kind = await client.post(f"/catalogue/equipements/{FACILITY_ID}/types/nouveau",
                                 data={"csrf": csrf, "nom": "Mercredi, vacances"})
        nursery = await client.post(f"/catalogue/types/{TYPE_ID}/activites/nouvelle",
                                    data={"csrf": csrf, "nom": "CRÈCHE", "preinscription": "oui"})
        autumn = await client.post(f"/catalogue/types/{TYPE_ID}/activites/nouvelle",
                                   data={"csrf": csrf, "nom": "AUTOMNE"})
    assert '<label for="preinscription">Préinscription (petite enfance)</label>' in page.text
    assert "Mercredi, vacances" in page.text  # where it will be added
    [sent] = fake.sent("POST", "enrolment", "/staff/activity-types")
    assert json.loads(sent.content) == {"facility_id": FACILITY_ID, "name": "Mercredi, vacances"}
    assert kind.headers["location"] == f"/catalogue?message=type_cree#type-{NEW_ID}"
    first, second = fake.sent("POST", "enrolment", "/staff/activities")
    assert json.loads(first.content) == {"activity_type_id": TYPE_ID, "name": "CRÈCHE",
                                         "pre_registration": True}
    assert json.loads(second.content)["pre_registration"] is False
    assert nursery.headers["location"] == f"/catalogue?message=activite_creee#activite-{NEW_ID}"
    assert autumn.status_code == 303


PERIOD_FORM = {
    "libelle": "Automne 2016", "date-debut": "20/10/2016", "date-fin": "3/11/2016",
    "ouverture-date": "01/10/2016", "ouverture-heure": "08:30",
    "fermeture-date": "15/11/2016", "fermeture-heure": "18h",
    "prioritaire-date": "", "prioritaire-heure": "",
    "memo": "Attention les inscriptions sont à la semaine.",
    "validation": "automatique", "promotion": "structure",
}


async def test_creating_a_period_sends_paris_date_times_with_their_offset(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/periods", created)
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle")
        response = await post_form(client, f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                                   {**PERIOD_FORM, "prioritaire-date": "25/09/2016",
                                    "prioritaire-heure": "8:00"})
    html = page.text
    assert "<h1>Ajouter une période</h1>" in html
    assert '<label for="memo">Mémo pour les inscriptions</label>' in html
    assert "Validation par la structure" in html
    assert "Automatique dans la limite des places" in html
    assert 'id="validation-structure" name="validation" value="structure" checked' in html
    [sent] = fake.sent("POST", "enrolment", "/staff/periods")
    # Summer time on 1 October (+02:00), winter time on 15 November (+01:00).
    assert json.loads(sent.content) == {
        "activity_id": ACTIVITY_ID, "label": "Automne 2016", "start_date": "2016-10-20",
        "end_date": "2016-11-03", "opens_at": "2016-10-01T08:30:00+02:00",
        "closes_at": "2016-11-15T18:00:00+01:00",
        "priority_opens_at": "2016-09-25T08:00:00+02:00",
        "memo": "Attention les inscriptions sont à la semaine.",
        "validation_mode": "automatique", "promotion_mode": "structure"}
    assert response.headers["location"] == f"/catalogue?message=periode_creee#periode-{NEW_ID}"


async def test_a_period_without_priority_opening_sends_null(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/periods", created)
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/catalogue/equipements/nouveau")
        await client.post(f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                          data={"csrf": csrf, **PERIOD_FORM})
    [sent] = fake.sent("POST", "enrolment", "/staff/periods")
    assert json.loads(sent.content)["priority_opens_at"] is None


async def test_period_form_errors_are_by_their_fields_and_nothing_is_sent(backoffice, fake):
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/catalogue/equipements/nouveau")
        response = await client.post(
            f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
            data={"csrf": csrf, **PERIOD_FORM, "libelle": "", "date-debut": "31/02/2016",
                  "ouverture-heure": "25:00", "prioritaire-date": "25/09/2016",
                  "validation": "autre"})
        gap = await client.post(
            f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
            data={"csrf": csrf, **PERIOD_FORM, "ouverture-date": "27/03/2016",
                  "ouverture-heure": "02:30", "fermeture-date": "01/03/2016"})
    html = response.text
    assert response.status_code == 422
    assert '<a href="#libelle">Saisissez le libellé de la période.</a>' in html
    assert ('<a href="#date-debut">Date de début n&#39;est pas une date valide '
            "(format JJ/MM/AAAA).</a>") in html
    assert ('<a href="#ouverture-heure">Heure d&#39;ouverture n&#39;est pas une heure valide '
            "(format HH:MM).</a>") in html
    assert '<a href="#prioritaire-heure">Saisissez l&#39;heure d&#39;ouverture prioritaire' in html
    assert '<a href="#validation-structure">Choisissez le mode de validation' in html
    assert 'value="3/11/2016"' in html  # what was typed is kept
    assert "Il y a 5 erreurs" in html
    assert "heure n&#39;existe pas ce jour-là" in gap.text
    assert ('<a href="#fermeture-date">La fermeture des inscriptions doit suivre leur '
            "ouverture.</a>") not in gap.text  # no ordering check on an unreadable moment
    assert not fake.sent("POST", "enrolment", "/staff/periods")


async def test_period_orderings_are_checked_by_their_fields(backoffice, fake):
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/catalogue/equipements/nouveau")
        response = await client.post(
            f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
            data={"csrf": csrf, **PERIOD_FORM, "date-fin": "19/10/2016",
                  "fermeture-date": "01/10/2016", "fermeture-heure": "08:30",
                  "prioritaire-date": "02/10/2016", "prioritaire-heure": "08:00"})
    html = response.text
    assert '<a href="#date-fin">La date de fin doit être' in html
    assert '<a href="#fermeture-date">La fermeture des inscriptions doit suivre' in html
    assert '<a href="#prioritaire-date">L&#39;ouverture prioritaire doit précéder' in html
    assert not fake.sent("POST", "enrolment", "/staff/periods")


async def test_enrolment_422_goes_on_its_fields_or_at_the_top(backoffice, fake):
    answers = iter([
        problem(422, "Données invalides",
                [{"champ": "memo", "message": "Ce champ est trop long."}]),
        problem(422, "Les inscriptions de cette activité se chevauchent."),
    ])
    fake.on("POST", "enrolment", "/staff/periods", lambda request: next(answers))
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/catalogue/equipements/nouveau")
        path = f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle"
        by_field = await client.post(path, data={"csrf": csrf, **PERIOD_FORM})
        at_top = await client.post(path, data={"csrf": csrf, **PERIOD_FORM})
    assert by_field.status_code == 422
    assert '<a href="#memo">Ce champ est trop long.</a>' in by_field.text
    assert re.search(r'<textarea id="memo"[^>]*aria-invalid="true"', by_field.text)
    assert "<li>Les inscriptions de cette activité se chevauchent.</li>" in at_top.text


async def test_editing_a_period_shows_paris_values_and_sends_a_put(backoffice, fake):
    fake.on("PUT", "enrolment", f"/staff/periods/{PERIOD_ID}", httpx.Response(204))
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/periodes/{PERIOD_ID}/modifier")
        response = await post_form(client, f"/catalogue/periodes/{PERIOD_ID}/modifier", PERIOD_FORM)
    html = page.text
    assert "<h1>Modifier la période « Automne 2016 »</h1>" in html
    for field_id, value in (("date-debut", "20/10/2016"), ("date-fin", "03/11/2016"),
                            ("ouverture-date", "01/10/2016"), ("ouverture-heure", "00:00"),
                            ("fermeture-date", "15/10/2016"), ("fermeture-heure", "18:00"),
                            ("prioritaire-date", "25/09/2016"),
                            ("prioritaire-heure", "08:00")):
        assert f'id="{field_id}" name="{field_id}" type="text" value="{value}"' in html, field_id
    assert "Attention les inscriptions sont a la semaine:\nSem 1" in html
    assert 'id="promotion-automatique" name="promotion" value="automatique" checked' in html
    [sent] = fake.sent("PUT", "enrolment", f"/staff/periods/{PERIOD_ID}")
    body = json.loads(sent.content)
    assert "activity_id" not in body and body["closes_at"] == "2016-11-15T18:00:00+01:00"
    assert response.headers["location"] == \
        f"/catalogue?message=periode_modifiee#periode-{PERIOD_ID}"


async def test_closing_a_period_asks_then_posts(backoffice, fake):
    fake.on("POST", "enrolment", f"/staff/periods/{PERIOD_ID}/close", httpx.Response(204))
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/periodes/{PERIOD_ID}/cloture")
        closed = await client.get(f"/catalogue/periodes/{CLOSED_PERIOD_ID}/cloture")
        response = await post_form(client, f"/catalogue/periodes/{PERIOD_ID}/cloture")
        after = await client.get(response.headers["location"].split("#")[0])
    assert "ne pourront plus demander d&#39;inscription" in page.text
    assert ">Clôturer la période</button>" in page.text
    assert "déjà clôturée" in closed.text and "</button>" not in closed.text.split("<main")[1]
    assert len(fake.sent("POST", "enrolment", f"/staff/periods/{PERIOD_ID}/close")) == 1
    assert response.headers["location"] == \
        f"/catalogue?message=periode_cloturee#periode-{PERIOD_ID}"
    assert 'role="status"' in after.text and "La période est clôturée" in after.text


async def test_creating_a_group_sends_numbers(backoffice, fake):
    fake.on("POST", "enrolment", "/staff/groups", created)
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, f"/catalogue/periodes/{PERIOD_ID}/groupes/nouveau")
        bad = await client.post(f"/catalogue/periodes/{PERIOD_ID}/groupes/nouveau", data={
            "csrf": csrf, "libelle": "6-8 ans", "age-min": "8", "age-max": "6",
            "capacite": "douze"})
        response = await client.post(f"/catalogue/periodes/{PERIOD_ID}/groupes/nouveau", data={
            "csrf": csrf, "libelle": "6-8 ans Rémond", "age-min": "6", "age-max": "8",
            "capacite": "12"})
    assert '<a href="#age-max">L&#39;âge maximum doit être supérieur' in bad.text
    assert '<a href="#capacite">La capacité doit être un nombre entier' in bad.text
    [sent] = fake.sent("POST", "enrolment", "/staff/groups")
    assert json.loads(sent.content) == {"period_id": PERIOD_ID, "label": "6-8 ans Rémond",
                                        "min_age": 6, "max_age": 8, "capacity": 12}
    assert response.headers["location"] == f"/catalogue?message=groupe_cree#groupe-{NEW_ID}"


async def test_editing_a_group_puts_it_and_shows_the_capacity_conflict(backoffice, fake):
    conflict = ("Ce groupe compte déjà 7 inscription(s) validée(s) ou en attente : la capacité "
                "ne peut pas descendre en dessous.")
    answers = iter([problem(409, conflict), httpx.Response(204)])
    fake.on("PUT", "enrolment", f"/staff/groups/{GROUP_ID}", lambda request: next(answers))
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        page = await client.get(f"/catalogue/groupes/{GROUP_ID}/modifier")
        csrf = await csrf_of(client, f"/catalogue/groupes/{GROUP_ID}/modifier")
        form = {"csrf": csrf, "libelle": "6-8 ans Rémond", "age-min": "6", "age-max": "8"}
        refused = await client.post(f"/catalogue/groupes/{GROUP_ID}/modifier",
                                    data={**form, "capacite": "5"})
        accepted = await client.post(f"/catalogue/groupes/{GROUP_ID}/modifier",
                                     data={**form, "capacite": "14"})
    assert 'id="capacite" name="capacite" type="text" value="12"' in page.text
    assert "Places prises : 7" in page.text
    assert refused.status_code == 409
    assert f'<a href="#capacite">{conflict}</a>' in refused.text
    first, second = fake.sent("PUT", "enrolment", f"/staff/groups/{GROUP_ID}")
    assert json.loads(second.content) == {"label": "6-8 ans Rémond", "min_age": 6, "max_age": 8,
                                          "capacity": 14}
    assert accepted.headers["location"] == \
        f"/catalogue?message=groupe_modifie#groupe-{GROUP_ID}"


async def test_an_unknown_node_is_a_404_page(backoffice, fake):
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        unknown = await client.get(f"/catalogue/periodes/{NURSERY_ID}/modifier")
        malformed = await client.get("/catalogue/groupes/..%2F..%2Fadmin/modifier")
    assert unknown.status_code == 404 and "Page introuvable" in unknown.text
    assert malformed.status_code == 404


async def test_enrolments_own_limits_are_checked_before_sending(backoffice, fake):
    """The request bodies are enrolment's contract models: what enrolment would refuse (a memo
    over 5000 characters, a name over 120) is refused here the same way, without a call."""
    async with backoffice(with_catalogue(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/catalogue/equipements/nouveau")
        long_memo = await client.post(f"/catalogue/activites/{ACTIVITY_ID}/periodes/nouvelle",
                                      data={"csrf": csrf, **PERIOD_FORM, "memo": "x" * 5001})
        long_name = await client.post("/catalogue/equipements/nouveau",
                                      data={"csrf": csrf, "nom": "x" * 121})
    assert long_memo.status_code == 422
    assert '<a href="#memo">Ce champ est trop long.</a>' in long_memo.text
    assert long_name.status_code == 422  # the form's own sentence (same limit)
    assert not fake.sent("POST", "enrolment", "/staff/periods")
    assert not fake.sent("POST", "enrolment", "/staff/facilities")
