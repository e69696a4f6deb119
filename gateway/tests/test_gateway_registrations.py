"""« Mes inscriptions »: each child's registrations as the guide shows them (mark, lines,
status in words), their sub-menu pages, cancelling (with CSRF), attestations and their PDF."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from gateway.tests import enrolment_fake as ef

Y = ef.YEAR


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="card registration">(.*?)(?=<li class="card registration">|'
                      r'<h3>|</section>)', html, re.S)


def card(html: str, registration_id: str) -> str:
    return next(c for c in cards(html) if f"/mes-inscriptions/{registration_id}" in c)


async def get(portal, fake, gw, path: str) -> httpx.Response:
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        return await client.get(path)


# --- The list -------------------------------------------------------------------------------

async def test_each_child_has_its_pending_then_current_registrations(portal, fake, enrolment,
                                                                    gw):
    response = await get(portal, fake, gw, "/mes-inscriptions")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Mes inscriptions</h1>" in html
    assert "Attention : une inscription n&#39;est pas une réservation." in html
    headings = re.findall(r"<h([23])[^>]*>(.*?)</h\1>", html.split("<main")[1], re.S)
    assert [text(h) for _, h in headings] == [
        "Une inscription peut être précédée :",
        "Léa Martin", "Inscriptions en attente (2)", "Inscriptions en cours (1)",
        "Inscriptions refusées, annulées ou terminées (2)",
        "Tom Martin", "Inscriptions en attente (1)", "Inscriptions en cours (0)"]
    assert "Aucune inscription en cours." in html
    assert f'href="/mes-inscriptions/nouvelle?enfant={ef.LEA}">Demander une nouvelle inscription' \
        in html


async def test_a_registration_reads_as_in_the_guide_with_its_mark(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    valid = card(html, ef.R_VALID)
    assert text(valid).startswith(
        f"V Validée par le service : Equipement : CENTRE DE LOISIRS ALSH Libellé : AUTOMNE - "
        f"Automne {Y} Date début : 20/10/{Y} Date fin : 03/11/{Y} Groupe : 6-8 ans Rémond "
        "✓ Validée")
    # The letter is hidden from screen readers, its meaning is read instead.
    assert ('<span class="mark mark-validated" aria-hidden="true">V</span><span '
            'class="visually-hidden">Validée par le service : </span>') in valid
    assert f'<time datetime="{Y}-10-20">20/10/{Y}</time>' in valid
    pending = text(card(html, ef.R_PENDING))
    assert pending.startswith("? Pas encore validée : Equipement : GESTION SCOLAIRE")
    assert "? En attente de validation" in pending
    pre = text(card(html, ef.R_PRE))
    assert pre.startswith("! Préinscription petite enfance pas encore validée : Equipement : "
                          "MULTI-ACCUEIL")


async def test_waitlisted_and_refused_say_so_in_words(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    waiting = text(card(html, ef.R_WAIT))
    assert waiting.startswith("Equipement : CENTRE DE LOISIRS ALSH Libellé : HIVER")
    assert "… Liste d&#39;attente : position 2" in waiting
    refused = text(card(html, ef.R_REFUSED))
    assert "✗ Refusée Motif : Dossier incomplet : certificat de vaccination manquant." in refused


async def test_the_legend_explains_the_three_marks(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    legend = text(html[html.index('<section class="legend"'):html.index("</section>")])
    assert legend == (
        "Une inscription peut être précédée : V signifie que l&#39;inscription a été validée "
        "par le service. ? signifie que l&#39;inscription n&#39;a pas encore été validée. ! "
        "signifie, pour les inscriptions Petite enfance, que la préinscription n&#39;a pas été "
        "validée.")


async def test_every_registration_has_the_guides_sub_menu(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    menu = card(html, ef.R_VALID)
    links = [(href, text(label).split(" – ")[0]) for href, label in
             re.findall(r'<a href="(/mes-inscriptions/[^"]+)">(.*?)</a>', menu)]
    base = f"/mes-inscriptions/{ef.R_VALID}"
    assert links[:5] == [(f"{base}/reservations", "Mes réservations"),
                         (f"{base}/liste-attente", "Liste d&#39;attente"),
                         (f"{base}/navettes", "Mes navettes"), (base, "Mes informations"),
                         (f"{base}/attestation", "Faire une demande d&#39;attestation "
                                                 "d&#39;inscription")]
    assert f'<span class="visually-hidden"> – AUTOMNE - Automne {Y}, Léa</span>' in menu
    # The issued attestation is one click away.
    assert (f'<a class="download" href="/mes-inscriptions/attestations/{ef.ISSUED}.pdf" '
            'type="application/pdf">Télécharger l&#39;attestation (PDF)</a>') in menu


@pytest.mark.parametrize("state,heading,ids", [
    ("attente", "Inscriptions en attente", [ef.R_PENDING, ef.R_WAIT]),
    ("cours", "Inscriptions en cours", [ef.R_VALID]),
])
async def test_the_family_links_filter_by_child_and_state(portal, fake, enrolment, gw, state,
                                                          heading, ids):
    html = (await get(portal, fake, gw, f"/mes-inscriptions?enfant={ef.LEA}&etat={state}")).text
    assert f"<h1>{heading}</h1>" in html
    assert "Enfant : Léa Martin" in html
    assert [c for c in ids if f"/mes-inscriptions/{c}/" in html] == ids
    assert len(cards(html)) == len(ids)
    assert "Tom Martin" not in html.split("<main")[1]
    assert (f'<a href="/mes-inscriptions?enfant={ef.LEA}&amp;etat={state}" '
            'aria-current="page">') in html


async def test_a_family_without_children_is_told_to_add_one(portal, fake, gw):
    fake.on("GET", f"/families/{ef.FAMILY_ID}", httpx.Response(200, json={
        **ef.FAMILY, "persons": ef.FAMILY["persons"][:1]}))
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    assert "Aucun enfant n&#39;est encore enregistré dans votre famille" in html
    assert not [r for r in fake.requests if r.url.port == 8102]


async def test_enrolment_down_is_a_french_503_page(portal, fake, gw):
    fake.on("GET", f"/families/{ef.FAMILY_ID}", httpx.Response(200, json=ef.FAMILY))
    fake.serve("enrolment", gw.all_down)
    response = await get(portal, fake, gw, "/mes-inscriptions")
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text


async def test_a_token_enrolment_refuses_sends_back_to_login(portal, fake, enrolment, gw):
    fake.serve("enrolment", lambda request: gw.problem(401, "Jeton expiré."))
    response = await get(portal, fake, gw, "/mes-inscriptions")
    assert response.status_code == 303
    assert response.headers["location"] == "/?suite=/mes-inscriptions"


# --- One registration -----------------------------------------------------------------------

async def test_my_information_shows_the_whole_registration(portal, fake, enrolment, gw):
    response = await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_VALID}")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Mes informations</h1>" in html
    assert f'<a href="/mes-inscriptions/{ef.R_VALID}" aria-current="page">Mes informations' in html
    rows = dict((text(k), text(v)) for k, v in re.findall(
        r'<th scope="row">(.*?)</th><td>(.*?)</td>', html, re.S))
    assert rows["Enfant"] == "Léa Martin"
    assert rows["Dates"] == f"du 20/10/{Y} au 03/11/{Y}"
    assert rows["Statut"] == "V Validée par le service : ✓ Validée"
    assert rows["Semaine type"] == "Lundi, Mercredi"
    assert rows["Mémo pour les inscriptions"] == "Allergie aux arachides. PAI fourni."
    assert rows["Décision"].startswith(f"3 septembre {Y - 1} à 16:30")
    assert "Télécharger l&#39;attestation (PDF)" in html
    assert f'href="/mes-inscriptions/{ef.R_VALID}/annulation">Annuler cette inscription' in html


async def test_a_refused_registration_cannot_be_cancelled(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_REFUSED}")).text
    assert "Annuler cette inscription" not in html
    assert "Aucune semaine type transmise" in html and "Aucun mémo" in html


async def test_another_familys_registration_is_a_french_404(portal, fake, enrolment, gw):
    other = str(uuid.uuid4())  # enrolment scopes by the token's family: not found
    response = await get(portal, fake, gw, f"/mes-inscriptions/{other}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in response.text and '<html lang="fr">' in response.text
    [asked] = fake.sent("GET", f"/families/{ef.FAMILY_ID}/registrations/{other}", "enrolment")
    assert asked.headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize("path", ["pas-un-uuid", "pas-un-uuid/liste-attente",
                                  "pas-un-uuid/annulation"])
async def test_a_malformed_id_is_a_404_without_asking_enrolment(portal, fake, enrolment, gw,
                                                                path):
    response = await get(portal, fake, gw, f"/mes-inscriptions/{path}")
    assert response.status_code == 404
    assert not [r for r in fake.requests if r.url.port == 8102]


async def test_waiting_list_position_or_not_on_the_list(portal, fake, booking, gw):
    on = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_WAIT}/liste-attente")).text
    assert "<strong>Liste d&#39;attente : position 2</strong>" in on
    off = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_VALID}/liste-attente")).text
    assert "Cette inscription n&#39;est pas sur liste d&#39;attente." in off


@pytest.mark.parametrize("section,title", [("reservations", "Mes réservations"),
                                           ("navettes", "Mes navettes")])
async def test_bookings_and_shuttles_open_once_validated(portal, fake, booking, gw, section,
                                                         title):
    validated = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_VALID}/{section}")).text
    assert f"<h1>{title}</h1>" in validated
    assert "doit d&#39;abord être validée" not in validated
    assert f'action="/mes-inscriptions/{ef.R_VALID}/{section}"' in validated
    pending = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_PENDING}/{section}")).text
    assert "Votre inscription doit d&#39;abord être validée." in pending
    assert "<form method=\"post\" action=\"/mes-inscriptions" not in pending
    # Booking is not asked for a registration that is not validated.
    assert not [r for r in fake.requests if r.url.port == 8103 and ef.R_PENDING in r.url.path]


# --- Cancelling -----------------------------------------------------------------------------

async def test_cancelling_asks_for_confirmation_first(portal, fake, enrolment, gw):
    html = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_PENDING}/annulation")).text
    assert "<h1>Annuler cette inscription</h1>" in html
    assert (f"Voulez-vous vraiment annuler l&#39;inscription de Léa : CANTINE - Restauration "
            f"{Y}/{Y + 1} ?") in html
    assert f'<form method="post" action="/mes-inscriptions/{ef.R_PENDING}/annulation"' in html
    assert 'name="csrf"' in html
    assert not fake.sent("POST", f"/families/{ef.FAMILY_ID}/registrations/{ef.R_PENDING}/cancel",
                         "enrolment")


async def test_cancel_without_csrf_is_refused_and_not_sent(portal, fake, enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.post(f"/mes-inscriptions/{ef.R_PENDING}/annulation", data={})
    assert response.status_code == 403 and "Formulaire expiré" in response.text
    assert not fake.sent("POST", f"/families/{ef.FAMILY_ID}/registrations/{ef.R_PENDING}/cancel",
                         "enrolment")
    assert enrolment.registrations[ef.R_PENDING]["status"] == "en_attente"


async def test_cancel_with_csrf_cancels_and_says_so(portal, fake, enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.post(f"/mes-inscriptions/{ef.R_PENDING}/annulation",
                                     data=gw.with_csrf(client))
        assert response.status_code == 303
        assert response.headers["location"] == (f"/mes-inscriptions/{ef.R_PENDING}"
                                                 "?confirmation=annulation")
        html = (await client.get(response.headers["location"])).text
    assert len(fake.sent("POST", f"/families/{ef.FAMILY_ID}/registrations/{ef.R_PENDING}/cancel",
                         "enrolment")) == 1
    assert "Votre inscription a été annulée." in html
    assert "– Annulée" in text(html)


async def test_cancel_refused_by_enrolment_shows_its_sentence(portal, fake, enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.post(f"/mes-inscriptions/{ef.R_REFUSED}/annulation",
                                     data=gw.with_csrf(client))
    assert response.status_code == 409
    assert "Cette inscription est déjà annulée ou refusée." in response.text


# --- Attestations ---------------------------------------------------------------------------

async def test_asking_for_an_attestation_then_the_confirmation(portal, fake, enrolment, gw):
    path = f"/mes-inscriptions/{ef.R_VALID}/attestation"
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        form = (await client.get(path)).text
        assert f'<form method="post" action="{path}"' in form
        assert "Demander une attestation d&#39;inscription</button>" in form
        refused = await client.post(path, data={})
        assert refused.status_code == 403
        response = await client.post(path, data=gw.with_csrf(client))
        assert response.status_code == 303
        assert response.headers["location"] == f"{path}?confirmation=demande"
        html = (await client.get(response.headers["location"])).text
    assert "Votre demande d&#39;attestation d&#39;inscription a été transmise à la structure." \
        in html
    assert "en cours de traitement par la structure" in html
    assert f'<form method="post" action="{path}"' not in html  # one request at a time
    assert len(fake.sent("POST", f"/families/{ef.FAMILY_ID}/registrations/{ef.R_VALID}/"
                                 "attestation-requests", "enrolment")) == 1


async def test_no_attestation_before_validation(portal, fake, enrolment, gw):
    path = f"/mes-inscriptions/{ef.R_PENDING}/attestation"
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(path)).text
        assert "Votre inscription doit d&#39;abord être validée." in html
        assert f'<form method="post" action="{path}"' not in html
        response = await client.post(path, data=gw.with_csrf(client))
    assert response.status_code == 409
    assert ("Une attestation ne peut être demandée que pour une inscription validée."
            in response.text)


async def test_the_pdf_is_streamed_from_enrolment_with_its_type(portal, fake, enrolment, gw):
    response = await get(portal, fake, gw, f"/mes-inscriptions/attestations/{ef.ISSUED}.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == ef.PDF_BYTES
    assert response.headers["content-disposition"] == \
        f'attachment; filename="attestation-{ef.ISSUED}.pdf"'
    assert "no-store" in response.headers["cache-control"]
    [asked] = fake.sent("GET", f"/families/{ef.FAMILY_ID}/attestations/{ef.ISSUED}/pdf",
                        "enrolment")
    assert asked.headers["authorization"].startswith("Bearer ")


async def test_a_pdf_not_issued_or_of_another_family_is_a_french_404(portal, fake, enrolment,
                                                                     gw):
    response = await get(portal, fake, gw,
                         f"/mes-inscriptions/attestations/{uuid.uuid4()}.pdf")
    assert response.status_code == 404 and "Page introuvable" in response.text


async def test_an_upstream_body_that_is_not_a_pdf_is_never_relayed(portal, fake, enrolment, gw):
    fake.on("GET", f"/families/{ef.FAMILY_ID}/attestations/{ef.ISSUED}/pdf",
            httpx.Response(200, text="<html>erreur interne</html>"), service="enrolment")
    response = await get(portal, fake, gw, f"/mes-inscriptions/attestations/{ef.ISSUED}.pdf")
    assert response.status_code == 503
    assert "erreur interne" not in response.text


async def test_the_dashboard_shows_enrolments_requests(portal, fake, enrolment, gw):
    fake.on("GET", f"/families/{ef.FAMILY_ID}/requests", httpx.Response(200, json={"items": [
        {"kind": "attestation", "label": "Attestation d'inscription : Léa, AUTOMNE - Automne",
         "status": "acceptee", "created_at": "2026-09-10T08:00:00Z",
         "decided_at": "2026-09-12T09:15:00Z", "reason": None},
        {"kind": "attestation", "label": "Attestation d'inscription : Léa, CANTINE - 2027",
         "status": "en_attente", "created_at": "2026-09-09T08:00:00Z", "decided_at": None,
         "reason": None},
        {"kind": "inscription", "label": "Inscription de Léa : CENTRE DE LOISIRS ALSH › HIVER - "
         "Hiver 2028 (6-11 ans) — liste d'attente, position 2", "status": "en_attente",
         "created_at": "2026-09-02T08:00:00Z", "decided_at": None, "reason": None},
        {"kind": "inscription", "label": "Inscription de Léa : CENTRE DE LOISIRS ALSH › ÉTÉ - "
         "Été 2027 (6-8 ans Rémond)", "status": "refusee", "created_at": "2026-09-01T08:00:00Z",
         "decided_at": "2026-09-03T14:30:00Z", "reason": "Dossier incomplet."}]}),
        service="enrolment")
    html = (await get(portal, fake, gw, "/tableau-de-bord")).text
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    rows = [text(r) for r in body.split("<tr>")[1:]]
    assert rows[0].startswith("Attestation d&#39;inscription : Léa, AUTOMNE - Automne ✓ Délivrée")
    assert rows[1].startswith("Attestation d&#39;inscription : Léa, CANTINE - 2027 ? Demandée")
    assert rows[2].startswith("Inscription de Léa : CENTRE DE LOISIRS ALSH › HIVER - Hiver 2028 "
                              "(6-11 ans) — liste d&#39;attente, position 2 ? En attente")
    assert rows[3].startswith("Inscription de Léa : CENTRE DE LOISIRS ALSH › ÉTÉ")
    assert "✗ Refusée" in rows[3] and "Motif : Dossier incomplet." in rows[3]
    english = (await get(portal, fake, gw, "/tableau-de-bord?lang=en")).text
    assert ('<td lang="fr">Attestation d&#39;inscription : Léa, AUTOMNE - Automne</td>'
            in english)
    assert "✓ Issued" in text(english)
