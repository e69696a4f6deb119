"""Every page, in English, with every state that shows other words: no catalogue key missing."""

from __future__ import annotations

import logging

import httpx

from gateway.tests import billing_fake
from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef

FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
LEA = "22222222-2222-4222-8222-222222222222"
CLAIRE = "11111111-1111-4111-8111-111111111111"
FAMILY = {"id": FAMILY_ID, "name": "Martin", "needs_review": True, "persons": [
    {"id": CLAIRE, "role": "guardian", "rank": 1, "first_name": "Claire", "last_name": "Martin",
     "birth_date": None, "sex": None, "age": None},
    {"id": LEA, "role": "child", "rank": None, "first_name": "Léa", "last_name": "Martin",
     "birth_date": "2015-01-01", "sex": "F", "age": 9}]}
PENDING = {"id": "99999999-9999-4999-8999-999999999999", "status": "en_attente", "created_at": "2024-03-01T09:00:00Z",
           "changes": {"home_phone": {"before": None, "after": "+33198765432"},
                       "beneficiary_scheme": {"before": "CAF", "after": "AUTRE"},
                       "guardian_phones.1.work_phone": {"before": None, "after": "+33100000000"},
                       "something_new": {"before": "a", "after": "b"}}}
CONTACT = {"email": "claire.martin@example.fr", "home_phone": None, "beneficiary_scheme": "MSA",
           "guardians": [{"person_id": CLAIRE, "rank": 1, "first_name": "Claire",
                          "last_name": "Martin", "mobile_phone": "+33612345678"}],
           "pending_request": None}
HISTORY = {"items": [{"kind": "coordonnees", "label": "Modification de coordonnées",
                      "status": "refusee", "created_at": "2024-03-01T09:00:00Z",
                      "decided_at": "2024-03-02T09:00:00Z", "reason": "Incomplet"}]}

PUBLIC = ["/", "/?message=deconnexion", "/?message=mot-de-passe-modifie",
          "/?message=compte-active", "/?message=inscription", "/mot-de-passe-oublie",
          "/mot-de-passe/nouveau?jeton=ok", "/invitation?jeton=ok", "/invitation?jeton=vieux",
          "/mot-de-passe/nouveau", "/inscription", "/sante", "/page-inexistante"]
PRIVATE = ["/", "/tableau-de-bord", "/ma-famille", "/ma-famille?confirmation=ajout",
           "/ma-famille?confirmation=modification", "/ma-famille/ajouter",
           "/ma-famille/ajouter?type=", "/ma-famille/ajouter?type=enfant",
           "/ma-famille/ajouter?type=responsable", f"/ma-famille/enfants/{LEA}/modifier",
           f"/ma-famille/responsables/{CLAIRE}/modifier", "/mes-coordonnees",
           "/mes-coordonnees/modifier", "/mes-coordonnees/demande-envoyee", "/mes-inscriptions",
           f"/mes-inscriptions?enfant={LEA}&etat=attente",
           f"/mes-inscriptions?enfant={LEA}&etat=cours",
           f"/mes-inscriptions/nouvelle?enfant={LEA}", "/mon-compte", "/mon-compte/mot-de-passe",
           "/mon-compte/detail-par-inscription", "/mon-compte/detail-par-facture",
           "/mon-compte/attestation-fiscale", f"/mon-compte/factures/{billing_fake.FIRST}",
           f"/mon-compte/factures/{billing_fake.FIRST}/payer"]
NEW = f"/mes-inscriptions/nouvelle?enfant={LEA}"
REGISTRATION_PAGES = [  # every state of « Mes inscriptions » that shows other words
    "/mes-inscriptions/nouvelle", f"{NEW}&equipement={ef.ALSH}",
    f"{NEW}&equipement={ef.ALSH}&activite={ef.AUTUMN}",
    f"{NEW}&equipement={ef.ALSH}&activite={ef.AUTUMN}&groupe={ef.GROUP_911}",
    f"{NEW}&equipement={ef.CANTEEN}",
    f"/mes-inscriptions/{ef.R_VALID}", f"/mes-inscriptions/{ef.R_VALID}?confirmation=annulation",
    f"/mes-inscriptions/{ef.R_REFUSED}", f"/mes-inscriptions/{ef.R_WAIT}/liste-attente",
    f"/mes-inscriptions/{ef.R_VALID}/liste-attente",
    *(f"/mes-inscriptions/{r}/{section}" for r in (ef.R_VALID, ef.R_PENDING)
      for section in ("reservations", "navettes", "attestation", "annulation")),
    f"/mes-inscriptions/{ef.R_VALID}/attestation?confirmation=demande",
    f"/mes-inscriptions/{ef.R_REFUSED}/annulation",
    # « Mes réservations » and its forms, « Mes navettes », the waiting days (booking)
    f"/mes-inscriptions/{ef.R_VALID}/reservations?mois={ef.YEAR}-11",
    f"/mes-inscriptions/{ef.R_VALID}/reservations/groupes",
    f"/mes-inscriptions/{ef.R_VALID}/reservations/groupes?mois={ef.YEAR}-11",
    f"/mes-inscriptions/{ef.R_VALID}/reservations/semaine-type",
]
BOOKING = f"/mes-inscriptions/{ef.R_VALID}/reservations"
BOOKING_POSTS = [  # (path, form, status): results, form errors, refusals in English
    (BOOKING, {"cases": [f"{bf.FULL_DAY}|journee", f"{bf.OPEN[4]}|matin"],
               "initial": [f"{bf.SHUTTLE_FULL}|repas"]}, 200),
    (BOOKING, {}, 200),
    (f"{BOOKING}/groupes", {"jours": [str(bf.GROUP_FULL), str(bf.SHUTTLE_FULL)],
                            "groupe": ef.GROUP_911}, 200),
    (f"{BOOKING}/groupes", {}, 422),
    (f"{BOOKING}/semaine-type", {"debut": str(bf.START), "fin": str(bf.END),
                                 "jour-1": ["journee"]}, 200),
    (f"{BOOKING}/semaine-type", {"debut": "x", "fin": str(bf.START)}, 422),
    (f"/mes-inscriptions/{ef.R_VALID}/navettes",
     {"arret": bf.STOP_TOWN_HALL, "sens": ["aller", "retour"],
      "jours": [str(bf.SHUTTLE_FULL), str(bf.GROUP_FULL)]}, 200),
    (f"/mes-inscriptions/{ef.R_VALID}/navettes", {}, 422),
    (f"/mes-inscriptions/{ef.R_VALID}/abonnement", {}, 200),
]
PAY = f"/mon-compte/factures/{billing_fake.FIRST}/payer"
BILLING_POSTS = [  # (path, form, status): « Mon compte »'s forms, their errors in English
    (PAY, {"montant": "trop"}, 422),
    (PAY, {"montant": "1000"}, 422),
    (PAY, {"montant": "10"}, 200),
    ("/mon-compte/attestation-fiscale", {"annee": "1990"}, 422),
    ("/mon-compte/attestation-fiscale", {"annee": str(billing_fake.LAST_YEAR - 1)}, 409),
]
CHOSEN = {"enfant": LEA, "equipement": ef.ALSH, "type": ef.HOLIDAYS, "activite": ef.AUTUMN,
          "periode": ef.AUTUMN_PERIOD, "groupe": ef.GROUP_68}
REGISTRATION_POSTS = [  # (path, form, status)
    ("/mes-inscriptions/nouvelle", {**CHOSEN, "semaine_type": "oui"}, 422),
    ("/mes-inscriptions/nouvelle", {**CHOSEN, "groupe": "x"}, 422),
    ("/mes-inscriptions/nouvelle", CHOSEN, 200),
    (f"/mes-inscriptions/{ef.R_REFUSED}/annulation", {}, 409),
    (f"/mes-inscriptions/{ef.R_PENDING}/attestation", {}, 409),
]
POSTS = {  # form posts that re-render a page with errors or notices
    "/connexion": {"identifiant": "", "mot_de_passe": ""},
    "/mot-de-passe-oublie": {"email": "a@b.fr"},
    "/inscription": {"family_name": ""},
    "/invitation": {"jeton": "ok", "password": "a", "password_confirmation": "b"},
    "/ma-famille/ajouter": {"type": "enfant", "birth_date": "n'importe", "sex": "X"},
    "/mes-coordonnees/modifier": {"beneficiary_scheme": "MSA", "mobile_phone_1": "06 12 34 56 78"},
    "/mon-compte/mot-de-passe": {"new_password": "a"},
}


def identity(fake, gw, *, pending: bool) -> None:
    fake.on("GET", f"/families/{FAMILY_ID}", httpx.Response(200, json=FAMILY))
    fake.on("GET", f"/families/{FAMILY_ID}/contact", httpx.Response(
        200, json={**CONTACT, "pending_request": PENDING if pending else None}))
    fake.on("GET", f"/families/{FAMILY_ID}/requests", httpx.Response(200, json=HISTORY))
    fake.on("POST", "/auth/password-reset", httpx.Response(202, json={}))
    fake.on("POST", "/auth/one-time-token", lambda request: (
        httpx.Response(200, json={"email": "a@b.fr", "purpose": "reset"})
        if b'"ok"' in request.content else gw.problem(400, "Ce lien n'est plus valide.")))


def missing_keys(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "missing message" in r.getMessage()]


async def test_every_page_in_english_has_every_key(portal, fake, gw, caplog):
    caplog.set_level(logging.WARNING, logger="marelle_gateway.i18n")
    identity(fake, gw, pending=False)
    enrolment = ef.FakeEnrolment(fake, family=False)
    booking = bf.FakeBooking(fake)
    billing = billing_fake.FakeBilling(fake)
    seen = 0
    async with portal(fake) as client:
        client.headers["Accept-Language"] = "en"
        for path in PUBLIC:
            response = await client.get(path)
            assert '<html lang="en">' in response.text, path
            seen += 1
        for path, data in POSTS.items():
            response = await client.post(path, data=data)  # no token: the CSRF page
            assert response.status_code == 403 and "Form expired" in response.text
        gw.signed_in(client, fake.parent_token())
        for path in PRIVATE:
            response = await client.get(path)
            assert response.status_code == (422 if path.endswith("type=") else 200), path
            assert '<html lang="en">' in response.text, path
            seen += 1
        for path, data in POSTS.items():
            response = await client.post(path, data=gw.with_csrf(client, data))
            assert response.status_code in (200, 422, 503), (path, response.status_code)
            assert '<html lang="en">' in response.text, path
        for path in REGISTRATION_PAGES:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert '<html lang="en">' in response.text, path
        for path, data, status in REGISTRATION_POSTS:
            response = await client.post(path, data=gw.with_csrf(client, data))
            assert response.status_code == status, path
            assert '<html lang="en">' in response.text, path
        for path, data, status in BOOKING_POSTS:
            response = await client.post(path, data=gw.with_csrf(client, data))
            assert response.status_code == status, (path, response.status_code)
            assert '<html lang="en">' in response.text, path
        for path, data, status in BILLING_POSTS:
            response = await client.post(path, data=gw.with_csrf(client, data))
            assert response.status_code == status, (path, response.status_code)
            assert '<html lang="en">' in response.text, path
        [payment_id] = billing.payments
        for result in ("attente", "refuse", "accepte"):
            response = await client.get(f"/mon-compte/paiement/retour?reference={payment_id}"
                                        f"&resultat={result}", follow_redirects=True)
            assert response.status_code == 200 and '<html lang="en">' in response.text
        billing.add_credit_note()
        for path in ("/mon-compte/detail-par-facture",
                     f"/mon-compte/factures/{billing_fake.CREDIT_NOTE}",
                     f"/mon-compte/factures/{billing_fake.SECOND}",
                     "/mon-compte/attestation-fiscale?attestation="
                     + billing_fake.ISSUED_ATTESTATION,
                     "/mon-compte/paiement/retour?reference=inconnue"):
            response = await client.get(path)
            assert response.status_code in (200, 400), path
            assert '<html lang="en">' in response.text, path
        billing.provider_method = "POST"
        response = await client.post(PAY, data=gw.with_csrf(client, {"montant": "1"}))
        assert response.status_code == 200 and "Continue to secure payment" in response.text
        booking.may_modify = False
        response = await client.post(BOOKING, data=gw.with_csrf(client, {
            "cases": [f"{bf.OPEN[5]}|soir"]}))
        assert response.status_code == 409 and "does not allow online changes" in response.text
        enrolment.request_answer = httpx.Response(201, json={"results": [
            {"child_id": LEA, "ok": False, "registration": None, "detail": "Groupe fermé."}]})
        response = await client.post("/mes-inscriptions/nouvelle",
                                      data=gw.with_csrf(client, CHOSEN))
        assert "Your request could not be saved" in response.text
        enrolment.offers[LEA] = {**enrolment.offers[LEA], "facilities": []}
        assert "No registration is open for Léa" in (await client.get(NEW)).text
        fake.routes.clear()
        identity(fake, gw, pending=True)
        for path in ("/mes-coordonnees", "/mes-coordonnees/modifier"):
            response = await client.get(path)
            assert "A change request is waiting" in response.text
    fake.jwks_up = False
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        unavailable = await client.get("/ma-famille?lang=en")
        assert unavailable.status_code == 503 and "temporarily unavailable" in unavailable.text
    assert seen == len(PUBLIC) + len(PRIVATE)
    assert not missing_keys(caplog), missing_keys(caplog)


async def test_identitys_french_sentences_are_marked_french_on_english_pages(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    async with portal(fake) as client:
        response = await client.post("/connexion?lang=en", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x"}))
    assert '<span lang="fr">Identifiant ou mot de passe incorrect.</span>' in response.text
