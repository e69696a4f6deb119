"""A group's waiting list: order, move up and down, promote, remove."""

from __future__ import annotations

import json
import re

import httpx

from .conftest import csrf_of, problem, sign_in
from .enrolment_sample import CATALOGUE, FULL_GROUP_ID, REG_HUGO, REG_MAX, REG_ZOE, WAITING

PATH = f"/groupes/{FULL_GROUP_ID}/liste-attente"
ORDER = [REG_ZOE, REG_HUGO, REG_MAX]


def waiting(fake):
    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    fake.on("GET", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list", WAITING)
    return fake


def form(csrf: str, action: str, **extra: str) -> dict:
    return {"csrf": csrf, "ordre": ORDER, "action": action, "nom-" + REG_ZOE: "Zoé Martin",
            "nom-" + REG_HUGO: "Hugo Martin", "nom-" + REG_MAX: "Max Martin", **extra}


async def test_waiting_list_is_shown_in_order_with_its_actions(backoffice, fake):
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        response = await client.get(PATH)
    html = response.text
    assert response.status_code == 200
    assert "<h1>Liste d&#39;attente du groupe « 9-11 ans »</h1>" in html
    assert "CENTRE DE LOISIRS ALSH" in html and "Automne 2016" in html  # where the group is
    assert "Promotion automatique" in html
    assert '<caption id="attente-legende">Liste d&#39;attente du groupe 9-11 ans (3)</caption>' \
        in html
    positions = [html.index(f'id="attente-{r}"') for r in ORDER]
    assert positions == sorted(positions)
    assert re.findall(r'name="ordre" value="([^"]+)"', html) == ORDER
    # No « Monter » for the first, no « Descendre » for the last.
    assert f'value="monter:{REG_ZOE}"' not in html and f'value="monter:{REG_HUGO}"' in html
    assert f'value="descendre:{REG_MAX}"' not in html and f'value="descendre:{REG_HUGO}"' in html
    assert f'id="promouvoir-{REG_ZOE}" name="action" value="promouvoir:{REG_ZOE}"' in html
    assert f'value="retirer:{REG_MAX}"' in html and "vendredi (journée)" in html
    assert (f'<label for="motif-{REG_MAX}" class="visually-hidden">Motif du retrait pour '
            "Max Martin (facultatif)</label>") in html
    form_html = html.split(f'<form method="post" action="{PATH}"')[1]
    assert form_html.index("<button") == form_html.index('<button type="submit" disabled hidden')


async def test_moving_up_sends_the_whole_reordered_list(backoffice, fake):
    fake.on("PUT", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list", httpx.Response(204))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        up = await client.post(PATH, data=form(csrf, f"monter:{REG_MAX}"))
        down = await client.post(PATH, data=form(csrf, f"descendre:{REG_ZOE}"))
        after = await client.get(up.headers["location"])
    first, second = fake.sent("PUT", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list")
    assert json.loads(first.content) == {"registration_ids": [REG_ZOE, REG_MAX, REG_HUGO]}
    assert json.loads(second.content) == {"registration_ids": [REG_HUGO, REG_ZOE, REG_MAX]}
    assert up.status_code == 303 and up.headers["location"] == f"{PATH}?message=ordre"
    assert down.status_code == 303
    assert "Le nouvel ordre de la liste d&#39;attente est enregistré." in after.text


async def test_moving_the_first_up_is_refused_here(backoffice, fake):
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        response = await client.post(PATH, data=form(csrf, f"monter:{REG_ZOE}"))
        stranger = await client.post(PATH, data=form(csrf, "promouvoir:" + "1" * 32))
    assert response.status_code == 422
    assert "Zoé Martin est déjà en tête de la liste." in response.text
    assert stranger.status_code == 422
    assert "Choisissez une action sur une ligne de la liste." in stranger.text
    assert not fake.sent("PUT", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list")
    assert not [r for r in fake.requests if r.method == "POST"]


async def test_a_list_changed_meanwhile_is_shown_as_it_is_now(backoffice, fake):
    fake.on("PUT", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list", problem(
        422, "La nouvelle liste doit reprendre exactement les demandes en attente de ce groupe."))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        response = await client.post(PATH, data=form(csrf, f"descendre:{REG_HUGO}"))
    assert response.status_code == 422
    assert ("La nouvelle liste doit reprendre exactement les demandes en attente de ce groupe. "
            "La liste a changé entre-temps") in response.text


async def test_promote_when_full_shows_the_409_message(backoffice, fake):
    full = ("Le groupe « 9-11 ans » est complet : libérez ou ajoutez une place avant de "
            "promouvoir une demande.")
    fake.on("POST", "enrolment", f"/staff/registrations/{REG_HUGO}/promote", problem(409, full))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        response = await client.post(PATH, data=form(csrf, f"promouvoir:{REG_HUGO}"))
    html = response.text
    assert len(fake.sent("POST", "enrolment", f"/staff/registrations/{REG_HUGO}/promote")) == 1
    assert response.status_code == 409
    assert f'<a href="#promouvoir-{REG_HUGO}">Hugo Martin : {full}</a>' in html
    assert f'<p id="promouvoir-{REG_HUGO}-erreur" class="field-error">' in html
    assert f'<tr id="attente-{REG_HUGO}" class="row-invalid">' in html


async def test_promote_then_back_to_the_list(backoffice, fake):
    fake.on("POST", "enrolment", f"/staff/registrations/{REG_ZOE}/promote", httpx.Response(204))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        response = await client.post(PATH, data=form(csrf, f"promouvoir:{REG_ZOE}"))
    assert response.headers["location"] == f"{PATH}?message=promue"


async def test_removing_sends_the_optional_reason(backoffice, fake):
    for reg in (REG_MAX, REG_ZOE):
        fake.on("POST", "enrolment", f"/staff/registrations/{reg}/remove-from-waiting-list",
                httpx.Response(204))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        with_reason = await client.post(PATH, data=form(
            csrf, f"retirer:{REG_MAX}", **{f"motif-{REG_MAX}": " Famille injoignable ",
                                          f"motif-{REG_ZOE}": "pas celle-ci"}))
        without = await client.post(PATH, data=form(csrf, f"retirer:{REG_ZOE}"))
    [sent] = fake.sent("POST", "enrolment",
                       f"/staff/registrations/{REG_MAX}/remove-from-waiting-list")
    assert json.loads(sent.content) == {"reason": "Famille injoignable"}
    [sent] = fake.sent("POST", "enrolment",
                       f"/staff/registrations/{REG_ZOE}/remove-from-waiting-list")
    assert json.loads(sent.content) == {}
    assert with_reason.headers["location"] == f"{PATH}?message=retiree"
    assert without.status_code == 303


async def test_a_removal_refused_keeps_the_reason_by_its_field(backoffice, fake):
    fake.on("POST", "enrolment", f"/staff/registrations/{REG_MAX}/remove-from-waiting-list",
            problem(422, "Données invalides", [{"champ": "reason",
                                                "message": "Ce champ est trop long."}]))
    async with backoffice(waiting(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, PATH)
        response = await client.post(PATH, data=form(
            csrf, f"retirer:{REG_MAX}", **{f"motif-{REG_MAX}": "long"}))
    assert f'<a href="#motif-{REG_MAX}">Max Martin : Ce champ est trop long.</a>' in response.text
    assert re.search(rf'id="motif-{REG_MAX}" name="motif-{REG_MAX}" value="long"', response.text)


async def test_an_empty_waiting_list(backoffice, fake):
    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    fake.on("GET", "enrolment", f"/staff/groups/{FULL_GROUP_ID}/waiting-list",
            {**WAITING, "items": []})
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(PATH)
    assert "Personne sur la liste d&#39;attente de ce groupe." in response.text
    assert "<table" not in response.text
