"""« Demander une nouvelle inscription »: the chained choice without JavaScript, the request sent
to enrolment (typical week only with Oui, brothers and sisters from the checkboxes, never a family
id from the client), and each child's outcome."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from gateway.tests import enrolment_fake as ef

NEW = f"/mes-inscriptions/nouvelle?enfant={ef.LEA}"
CHOSEN = {"enfant": ef.LEA, "equipement": ef.ALSH, "type": ef.HOLIDAYS, "activite": ef.AUTUMN,
          "periode": ef.AUTUMN_PERIOD, "groupe": ef.GROUP_68}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def select(html: str, name: str) -> str | None:
    match = re.search(rf'<select id="{name}" name="{name}".*?</select>', html, re.S)
    return match[0] if match else None


def options(html: str, name: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of a select."""
    return [(value, text(label), bool(selected)) for value, selected, label in re.findall(
        r'<option value="([^"]*)"( selected)?>(.*?)</option>', select(html, name) or "", re.S)]


def hidden(html: str) -> dict[str, str]:
    form = html[html.index('<form method="post" action="/mes-inscriptions/nouvelle"'):]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                           form[:form.index("</form>")]))


def posted(fake) -> list[httpx.Request]:
    return fake.sent("POST", f"/families/{ef.FAMILY_ID}/registrations", "enrolment")


async def get(portal, fake, gw, path: str) -> httpx.Response:
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        return await client.get(path)


async def post(portal, fake, gw, data: dict, *, csrf: bool = True) -> httpx.Response:
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        return await client.post("/mes-inscriptions/nouvelle",
                                 data=gw.with_csrf(client, data) if csrf else data)


async def test_the_page_follows_the_guide(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, NEW)).text
    assert "<h1>Demander une nouvelle inscription</h1>" in html
    crumb = text(html[html.index('<nav class="breadcrumb'):html.index("</nav>", html.index(
        '<nav class="breadcrumb'))])
    assert crumb == "Vous êtes ici : Accueil Ma Famille Nouvelle inscription"
    assert "Enfant : Léa Martin" in html
    assert "une inscription n&#39;est pas une réservation" in html
    assert "<script" not in html


async def test_first_the_facility_only(portal, fake, enrolment, gw):
    response = await get(portal, fake, gw, NEW)
    html = response.text
    assert response.status_code == 200
    assert '<label for="equipement">Choix de l&#39;Équipement <span class="required"' in html
    assert options(html, "equipement") == [
        ("", "— Choisissez —", False), (ef.ALSH, "CENTRE DE LOISIRS ALSH", False),
        (ef.CANTEEN, "GESTION SCOLAIRE / PERISCOLAIRE", False)]
    assert select(html, "type") is None and select(html, "groupe") is None
    assert '<form method="get" action="/mes-inscriptions/nouvelle"' in html
    assert '<form method="post"' not in html.split("</header>")[1]
    assert ">Continuer</button>" in html
    # First display: nothing takes the focus away from the top of the page.
    assert "autofocus" not in html
    [offer] = fake.sent("GET", f"/families/{ef.FAMILY_ID}/children/{ef.LEA}/offer", "enrolment")
    assert offer.headers["authorization"].startswith("Bearer ")


async def test_each_continue_narrows_one_level_and_single_choices_are_taken(portal, fake,
                                                                           enrolment, gw):
    html = (await get(portal, fake, gw, f"{NEW}&equipement={ef.ALSH}")).text
    assert options(html, "equipement") == [
        (ef.ALSH, "CENTRE DE LOISIRS ALSH", True),
        (ef.CANTEEN, "GESTION SCOLAIRE / PERISCOLAIRE", False)]
    # One activity type under the facility: chosen at once, no « Choisissez ».
    assert options(html, "type") == [(ef.HOLIDAYS, "Mercredi, vacances", True)]
    assert options(html, "activite") == [("", "— Choisissez —", False),
                                         (ef.AUTUMN, "AUTOMNE", False),
                                         (ef.WINTER, "HIVER", False)]
    assert select(html, "periode") is None
    # After « Continuer », the next field to fill takes the focus.
    assert re.search(r'<select id="activite"[^>]* autofocus>', html)

    html = (await get(portal, fake, gw,
                      f"{NEW}&equipement={ef.ALSH}&type={ef.HOLIDAYS}&activite={ef.AUTUMN}")).text
    assert options(html, "periode") == [(ef.AUTUMN_PERIOD, f"Automne {ef.YEAR}", True)]
    info = text(html[html.index('id="periode-infos"'):])
    assert f"Période d&#39;inscription du 20/10/{ef.YEAR} au 03/11/{ef.YEAR}" in info
    assert "MEMO : Informations inscription" in info
    assert "Sem 1 : 20 et 21 octobre" in info
    assert 'aria-describedby="periode-infos"' in html
    assert options(html, "groupe") == [
        ("", "— Choisissez —", False),
        (ef.GROUP_68, "6-8 ans Rémond — 3 place(s) restante(s)", False),
        (ef.GROUP_911, "9-11 ans — complet — liste d&#39;attente", False)]
    assert "Enregistrer Demande" not in html


async def test_a_level_with_one_choice_all_the_way_down_reaches_the_request(portal, fake,
                                                                           enrolment, gw):
    html = (await get(portal, fake, gw, f"{NEW}&equipement={ef.CANTEEN}")).text
    assert options(html, "type") == [(ef.MEALS, "Restauration scolaire", True)]
    assert options(html, "activite") == [(ef.CANTINE, "CANTINE", True)]
    assert options(html, "periode") == [(ef.MEALS_PERIOD, f"Restauration {ef.YEAR}/{ef.YEAR + 1}",
                                         True)]
    assert options(html, "groupe") == [(ef.GROUP_MEALS,
                                        "Élémentaire — 50 place(s) restante(s)", True)]
    assert hidden(html) == {"csrf": hidden(html)["csrf"], "enfant": ef.LEA,
                            "equipement": ef.CANTEEN, "type": ef.MEALS, "activite": ef.CANTINE,
                            "periode": ef.MEALS_PERIOD, "groupe": ef.GROUP_MEALS}


async def test_a_choice_that_no_longer_fits_the_level_above_is_dropped(portal, fake, enrolment,
                                                                      gw):
    """The parent changed the facility: the old activity (of another facility) is forgotten."""
    html = (await get(portal, fake, gw,
                      f"{NEW}&equipement={ef.CANTEEN}&activite={ef.AUTUMN}&groupe={ef.GROUP_68}"
                      )).text
    assert options(html, "activite") == [(ef.CANTINE, "CANTINE", True)]
    assert hidden(html)["groupe"] == ef.GROUP_MEALS


async def test_the_request_part_once_the_group_is_chosen(portal, fake, enrolment, gw):
    query = "&".join(f"{k}={v}" for k, v in CHOSEN.items() if k != "enfant")
    html = (await get(portal, fake, gw, f"{NEW}&{query.replace(ef.GROUP_68, ef.GROUP_911)}")).text
    assert "Ce groupe est complet : votre demande sera placée sur liste d&#39;attente." in html
    form = html[html.index('<form method="post" action="/mes-inscriptions/nouvelle"'):]
    assert {k: v for k, v in hidden(html).items() if k != "csrf"} == {
        **CHOSEN, "groupe": ef.GROUP_911}
    assert "Souhaitez-vous transmettre une semaine type à la structure ?" in form
    assert re.search(r'<input type="radio" id="semaine_type" name="semaine_type" value="non" '
                     r'checked>\s*<label for="semaine_type">Non</label>', form)
    assert '<label for="semaine_type-2">Oui</label>' in form
    # Rendered always (no JavaScript to reveal them), sent only with « Oui ».
    days = re.findall(r'<input type="checkbox" id="[^"]+" name="jours" value="(\d)">\s*'
                      r'<label for="[^"]+">(\w+)</label>', form)
    assert days == [("1", "Lundi"), ("2", "Mardi"), ("3", "Mercredi"), ("4", "Jeudi"),
                    ("5", "Vendredi"), ("6", "Samedi"), ("7", "Dimanche")]
    assert '<label for="memo">Mémo pour les inscriptions</label>' in form
    assert "<legend>Dupliquer l&#39;inscription sur :</legend>" in form
    assert re.search(rf'name="dupliquer" value="{ef.TOM}">\s*<label for="dupliquer">Tom Martin'
                     r'</label>', form)
    assert "Léa Martin</label>" not in form
    assert '<button type="submit" class="button">Enregistrer Demande</button>' in form
    assert '<a class="button button-secondary" href="/ma-famille">Annuler</a>' in form
    assert re.search(r'<h2 id="demande" tabindex="-1" autofocus>', form)


async def test_post_sends_the_request_without_typical_week_when_non(portal, fake, enrolment, gw):
    response = await post(portal, fake, gw, {
        **CHOSEN, "semaine_type": "non", "jours": ["1", "3"], "memo": "  Arrive à 9 h.  ",
        "family_id": ef.FAMILY_ID.replace("0b7d", "ffff"), "famille": "autre"})
    assert response.status_code == 200
    [sent] = posted(fake)
    assert sent.url.path == f"/families/{ef.FAMILY_ID}/registrations"
    assert sent.headers["authorization"].startswith("Bearer ")
    assert json.loads(sent.content) == {"child_id": ef.LEA, "group_id": ef.GROUP_68,
                                        "typical_week": [], "memo": "Arrive à 9 h.",
                                        "duplicate_for": []}


async def test_post_sends_the_typical_week_with_oui_and_the_siblings_ticked(portal, fake,
                                                                           enrolment, gw):
    outsider = "44444444-4444-4444-8444-444444444444"
    await post(portal, fake, gw, {**CHOSEN, "semaine_type": "oui", "jours": ["3", "1", "9", "x"],
                                  "dupliquer": [ef.TOM, outsider, ef.LEA]})
    [sent] = posted(fake)
    assert json.loads(sent.content) == {
        "child_id": ef.LEA, "group_id": ef.GROUP_68,
        "typical_week": [{"weekday": 1, "units": []}, {"weekday": 3, "units": []}],
        "memo": "", "duplicate_for": [ef.TOM]}


async def test_each_childs_outcome_is_shown(portal, fake, enrolment, gw):
    enrolment.request_answer = httpx.Response(201, json={"results": [
        {"child_id": ef.LEA, "ok": True, "detail": "Le groupe est complet : Léa est inscrit(e) "
         "sur la liste d'attente, en position 4.",
         "registration": ef.registration(ef.R_WAIT, ef.LEA, "liste_attente", position=4)},
        {"child_id": ef.TOM, "ok": False, "registration": None,
         "detail": "Le groupe « 6-8 ans Rémond » accueille les enfants de 6 à 8 ans (âge au "
                   "début de la période, le 20/10/2027) ; Tom aura alors 4 ans."}]})
    response = await post(portal, fake, gw, {**CHOSEN, "dupliquer": [ef.TOM]})
    html = response.text
    assert response.status_code == 200
    assert "<h1>Votre demande d&#39;inscription</h1>" in html
    assert "Une partie de votre demande n&#39;a pas pu être enregistrée" in html
    cards = [text(c) for c in re.findall(r'<li class="card result">(.*?)</li>', html, re.S)]
    assert cards[0].startswith("Léa Martin ✓ Demande enregistrée Le groupe est complet : Léa "
                               "est inscrit(e) sur la liste d&#39;attente, en position 4.")
    assert "Voir cette inscription" in cards[0]
    assert cards[1].startswith("Tom Martin ✗ Demande non enregistrée Le groupe « 6-8 ans "
                               "Rémond » accueille")
    assert "Voir cette inscription" not in cards[1]
    assert f'href="/mes-inscriptions/{ef.R_WAIT}"' in html
    assert '<a href="/mes-inscriptions">Mes inscriptions</a>' in html


async def test_the_default_outcome_lists_both_children(portal, fake, enrolment, gw):
    html = (await post(portal, fake, gw, {**CHOSEN, "dupliquer": ef.TOM})).text
    assert "Votre demande a été enregistrée." in html
    assert "Demande d&#39;inscription de Léa transmise à la structure." in html
    assert "Demande d&#39;inscription de Tom transmise à la structure." in html


async def test_oui_without_a_day_is_an_error_on_the_days(portal, fake, enrolment, gw):
    response = await post(portal, fake, gw, {**CHOSEN, "semaine_type": "oui",
                                             "memo": "Texte gardé"})
    html = response.text
    assert response.status_code == 422
    assert not posted(fake)
    assert "<title>Erreur : Demander une nouvelle inscription" in html
    assert ('<li><a href="#jours">Cochez au moins un jour de la semaine type, ou répondez '
            'Non.</a></li>') in html
    assert re.search(r'<input type="checkbox" id="jours" name="jours" value="1" '
                     r'aria-invalid="true">', html)
    assert 'aria-describedby="jours-aide jours-erreur"' in html
    assert ">Texte gardé</textarea>" in html
    assert re.search(r'value="oui" checked', html)


async def test_a_too_long_memo_is_refused_before_enrolment(portal, fake, enrolment, gw):
    response = await post(portal, fake, gw, {**CHOSEN, "memo": "x" * 2001})
    assert response.status_code == 422 and not posted(fake)
    assert '<a href="#memo">Le mémo ne doit pas dépasser 2\u202f000 caractères.</a>' in \
        response.text


async def test_enrolments_refusal_is_shown_on_the_form(portal, fake, enrolment, gw):
    enrolment.request_answer = gw.problem(422, "Données invalides.", erreurs=[
        {"champ": "memo", "message": "Le mémo est trop long."}])
    response = await post(portal, fake, gw, CHOSEN)
    assert response.status_code == 422
    assert '<a href="#memo">Le mémo est trop long.</a>' in response.text


async def test_post_without_csrf_is_refused(portal, fake, enrolment, gw):
    response = await post(portal, fake, gw, CHOSEN, csrf=False)
    assert response.status_code == 403 and not posted(fake)


async def test_post_for_a_child_of_another_family_is_a_404(portal, fake, enrolment, gw):
    response = await post(portal, fake, gw, {**CHOSEN,
                                             "enfant": "44444444-4444-4444-8444-444444444444"})
    assert response.status_code == 404 and not posted(fake)
    assert "Page introuvable" in response.text


async def test_enrolment_down_keeps_the_form_with_a_message(portal, fake, enrolment, gw):
    def down(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ConnectError("refused", request=request)
        return enrolment(request)

    fake.serve("enrolment", down)
    response = await post(portal, fake, gw, {**CHOSEN, "memo": "gardé"})
    assert response.status_code == 503
    assert "Le service des inscriptions est momentanément indisponible." in response.text
    assert ">gardé</textarea>" in response.text


async def test_without_a_child_the_page_asks_which_one(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions/nouvelle")).text
    assert "<legend>Pour quel enfant ? <span class=\"required\"" in html
    assert re.search(rf'<input type="radio" id="enfant" name="enfant" value="{ef.LEA}" '
                     r'required>\s*<label for="enfant">Léa Martin</label>', html)
    assert f'value="{ef.TOM}"' in html and "Claire" not in html.split("<main")[1]
    assert '<form method="get" action="/mes-inscriptions/nouvelle"' in html
    assert not fake.sent("GET", f"/families/{ef.FAMILY_ID}/children/{ef.LEA}/offer",
                         "enrolment")


@pytest.mark.parametrize("child", ["44444444-4444-4444-8444-444444444444", ef.CLAIRE, "x"])
async def test_a_child_outside_the_family_is_a_404(portal, fake, enrolment, gw, child):
    response = await get(portal, fake, gw, f"/mes-inscriptions/nouvelle?enfant={child}")
    assert response.status_code == 404


async def test_nothing_open_is_said_clearly(portal, fake, enrolment, gw):
    enrolment.offers[ef.LEA]["facilities"] = []
    html = (await get(portal, fake, gw, NEW)).text
    assert "Aucune inscription n&#39;est ouverte pour Léa en ce moment." in html
    assert "<select" not in html


async def test_a_child_enrolment_does_not_know_yet_gets_enrolments_sentence(portal, fake,
                                                                            enrolment, gw):
    del enrolment.offers[ef.LEA]
    response = await get(portal, fake, gw, NEW)
    assert response.status_code == 200
    assert "n&#39;est pas encore connu du service des inscriptions" in response.text


async def test_enrolment_entirely_down_on_post_says_it_once(portal, fake, enrolment, gw):
    fake.serve("enrolment", gw.all_down)
    response = await post(portal, fake, gw, CHOSEN)
    assert response.status_code == 503
    assert response.text.count("Le service des inscriptions est momentanément indisponible.") == 1
    assert "Aucune inscription n&#39;est ouverte" not in response.text


async def test_a_successful_post_asks_enrolment_nothing_else(portal, fake, enrolment, gw):
    await post(portal, fake, gw, CHOSEN)
    assert [r.url.path for r in fake.requests if r.url.port == 8102] == [
        f"/families/{ef.FAMILY_ID}/registrations"]
