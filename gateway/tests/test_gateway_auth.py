"""Login, logout, forgotten password, e-mailed links and first sign-up, against a fake identity."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie

import httpx

TOKENS = {"access_token": "", "refresh_token": "rafraichissement-1", "token_type": "Bearer",
          "expires_in": 900}


def cookies_set(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of the response: name -> attributes (lower-case), value under "value"."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attrs = {k: str(v) for k, v in morsel.items() if v}
            flags = {part.strip().lower() for part in header.split(";")[1:]}
            attrs.update({flag: "1" for flag in ("httponly", "secure") if flag in flags})
            out[name] = {"value": morsel.value, **attrs}
    return out


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- Login ---------------------------------------------------------------------------------

async def test_login_sets_both_cookies_and_redirects_to_the_dashboard(portal, fake, gw):
    access = fake.parent_token()
    fake.on("POST", "/auth/token", httpx.Response(200, json={**TOKENS, "access_token": access}))
    async with portal(fake) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "claire.martin@example.fr", "mot_de_passe": " secret à espaces "}),
            headers={"X-Correlation-ID": "cid-login"})
    assert response.status_code == 303
    assert response.headers["location"] == "/tableau-de-bord"
    cookies = cookies_set(response)
    session, refresh = cookies["marelle_session"], cookies["marelle_refresh"]
    assert session["value"] == access
    assert session["httponly"] and session["samesite"].lower() == "lax" and session["path"] == "/"
    assert refresh["value"] == "rafraichissement-1"
    assert refresh["httponly"] and refresh["samesite"].lower() == "strict"
    assert refresh["path"] == "/"
    assert "secure" not in session, "cookie_secure is off by default (local http)"
    # A new CSRF token after login.
    assert cookies["marelle_csrf"]["value"] != gw.CSRF
    [sent] = fake.sent("POST", "/auth/token")
    assert json.loads(sent.content) == {"email": "claire.martin@example.fr",
                                        "password": " secret à espaces "}
    assert sent.headers["x-marelle-client-address"] == "127.0.0.1"
    assert sent.headers["x-correlation-id"] == "cid-login"


async def test_cookies_are_secure_when_the_setting_says_so(portal, fake, gw):
    from marelle_gateway.config import GatewaySettings

    fake.on("POST", "/auth/token",
            httpx.Response(200, json={**TOKENS, "access_token": fake.parent_token()}))
    async with portal(fake, settings=GatewaySettings(cookie_secure=True)) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "claire.martin@example.fr", "mot_de_passe": "x"}))
    cookies = cookies_set(response)
    assert all(cookies[name].get("secure") for name in
               ("marelle_session", "marelle_refresh", "marelle_csrf"))


async def test_login_goes_back_to_the_page_asked_before(portal, fake, gw):
    fake.on("POST", "/auth/token",
            httpx.Response(200, json={**TOKENS, "access_token": fake.parent_token()}))
    async with portal(fake) as client:
        form = (await client.get("/?suite=/mes-inscriptions%3Fenfant%3D1%26etat%3Dcours")).text
        assert ('<input type="hidden" name="suite" '
                'value="/mes-inscriptions?enfant=1&amp;etat=cours">') in form
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x",
            "suite": "/mes-inscriptions?enfant=1&etat=cours"}))
        assert response.headers["location"] == "/mes-inscriptions?enfant=1&etat=cours"
        for foreign in ("https://evil.example/", "//evil.example/", "/\\evil.example",
                        "javascript:x"):
            response = await client.post("/connexion", data=gw.with_csrf(client, {
                "identifiant": "a@b.fr", "mot_de_passe": "x", "suite": foreign}))
            assert response.headers["location"] == "/tableau-de-bord", foreign


async def test_wrong_password_shows_identitys_message_and_keeps_the_identifier(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    async with portal(fake) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "claire.martin@example.fr", "mot_de_passe": "mauvais"}))
    assert response.status_code == 400
    html = response.text
    assert "Identifiant ou mot de passe incorrect." in html
    assert 'class="error-summary" role="alert"' in html
    assert 'value="claire.martin@example.fr"' in html
    assert "mauvais" not in html, "the password is never sent back"
    assert "marelle_session" not in response.headers.get("set-cookie", "")
    assert html.count("<title>Erreur : Connexion") == 1


async def test_too_many_attempts_shows_the_wait(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(
        429, "Trop de tentatives de connexion : réessayez dans 15 minute(s).", retry_after=900))
    async with portal(fake) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "claire.martin@example.fr", "mot_de_passe": "x"}))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "900"
    assert "réessayez dans 15 minute(s)" in response.text


async def test_too_many_attempts_without_a_sentence_still_gives_the_wait(portal, fake, gw):
    fake.on("POST", "/auth/token", httpx.Response(429, headers={"retry-after": "120"}))
    async with portal(fake) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x"}))
    assert "Réessayez dans 2 minute(s)." in response.text


async def test_empty_login_fields_are_errors_on_the_fields(portal, fake, gw):
    async with portal(fake) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {"identifiant": ""}))
    assert response.status_code == 422
    html = response.text
    assert '<a href="#identifiant">Saisissez votre identifiant' in html
    assert '<a href="#mot-de-passe">Saisissez votre mot de passe.' in html
    field = re.search(r'<input id="identifiant"[^>]*>', html)[0]
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="identifiant-aide identifiant-erreur"' in field
    assert not fake.sent("POST", "/auth/token")


async def test_login_when_identity_is_down_keeps_the_form(portal, gw):
    async with portal(gw.all_down) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x"}))
    assert response.status_code == 503
    assert "momentanément indisponible" in response.text
    assert 'value="a@b.fr"' in response.text


# --- Logout --------------------------------------------------------------------------------

async def test_header_has_a_logout_button_that_revokes_and_clears(portal, fake, gw):
    fake.on("GET", f"/families/{fake.FAMILY_ID}/contact", httpx.Response(200, json={
        "email": "claire.martin@example.fr", "guardians": []}))
    fake.on("POST", "/auth/logout", httpx.Response(204))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token(), "rafraichissement-1")
        page = (await client.get("/mes-coordonnees")).text
        assert "Connecté(e) : Claire Martin" in page
        token = re.search(r'action="/deconnexion".*?name="csrf" value="([^"]+)"', page, re.S)[1]
        response = await client.post("/deconnexion", data={"csrf": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/?message=deconnexion"
        cleared = cookies_set(response)
        assert cleared["marelle_session"]["value"] == ""
        assert cleared["marelle_refresh"]["value"] == ""
        assert fake.body("POST", "/auth/logout") == {"refresh_token": "rafraichissement-1"}
        home = await client.get("/?message=deconnexion")
    assert "Vous êtes déconnecté(e)." in home.text
    assert "/deconnexion" not in home.text


async def test_logout_when_identity_is_down_still_clears_the_cookies(portal, gw):
    async with portal(gw.all_down) as client:
        gw.signed_in(client, "x", "rafraichissement-1")
        response = await client.post("/deconnexion", data=gw.with_csrf(client))
    assert response.status_code == 303
    assert cookies_set(response)["marelle_refresh"]["value"] == ""


# --- Forgotten password and e-mailed links -------------------------------------------------

async def test_forgotten_password_always_says_the_same(portal, fake, gw):
    fake.on("POST", "/auth/password-reset", httpx.Response(202, json={}))
    async with portal(fake) as client:
        login = (await client.get("/")).text
        assert '<a href="/mot-de-passe-oublie">Mot de passe oublié ?</a>' in login
        form = (await client.get("/mot-de-passe-oublie")).text
        assert '<label for="email">Votre adresse e-mail</label>' in form
        response = await client.post("/mot-de-passe-oublie",
                                     data=gw.with_csrf(client, {"email": "x@example.fr"}))
    assert response.status_code == 200
    assert "Si un compte correspond à cette adresse" in response.text
    assert fake.body("POST", "/auth/password-reset") == {"email": "x@example.fr"}


async def test_reset_link_form_then_new_password_then_login_page(portal, fake, gw):
    fake.on("POST", "/auth/one-time-token",
            httpx.Response(200, json={"email": "claire.martin@example.fr", "purpose": "reset"}))
    fake.on("POST", "/auth/password-reset/confirm", httpx.Response(204))
    async with portal(fake) as client:
        form = await client.get("/mot-de-passe/nouveau?jeton=abc123")
        assert form.status_code == 200
        assert 'name="jeton" value="abc123"' in form.text
        assert 'value="claire.martin@example.fr" autocomplete="username" readonly' in form.text
        mismatch = await client.post("/mot-de-passe/nouveau", data=gw.with_csrf(client, {
            "jeton": "abc123", "password": "un long mot de passe",
            "password_confirmation": "autre"}))
        assert mismatch.status_code == 422
        assert "Les deux mots de passe ne sont pas identiques." in mismatch.text
        done = await client.post("/mot-de-passe/nouveau", data=gw.with_csrf(client, {
            "jeton": "abc123", "password": "un long mot de passe",
            "password_confirmation": "un long mot de passe"}))
        assert done.status_code == 303
        assert done.headers["location"] == "/?message=mot-de-passe-modifie"
        login = (await client.get(done.headers["location"])).text
    assert "Votre mot de passe a été modifié." in login
    assert fake.body("POST", "/auth/one-time-token") == {"token": "abc123", "purpose": "reset"}
    assert fake.body("POST", "/auth/password-reset/confirm") == {
        "token": "abc123", "password": "un long mot de passe"}


async def test_weak_password_is_shown_on_the_field(portal, fake, gw):
    fake.on("POST", "/auth/invitation/accept", gw.problem(
        422, "Données invalides", erreurs=[{"champ": "password",
                                            "message": "Au moins 10 caractères."}]))
    async with portal(fake) as client:
        response = await client.post("/invitation", data=gw.with_csrf(client, {
            "jeton": "inv", "password": "court", "password_confirmation": "court"}))
    assert response.status_code == 422
    assert '<a href="#password">Au moins 10 caractères.</a>' in response.text
    assert re.search(r'<input id="password"[^>]*aria-invalid="true"', response.text)


async def test_used_link_shows_identitys_message(portal, fake, gw):
    fake.on("POST", "/auth/one-time-token",
            gw.problem(400, "Ce lien n'est plus valide : demandez-en un nouveau."))
    async with portal(fake) as client:
        response = await client.get("/invitation?jeton=vieux")
        missing = await client.get("/mot-de-passe/nouveau")
    assert response.status_code == 400
    assert "Ce lien n&#39;est plus valide : demandez-en un nouveau." in response.text
    assert missing.status_code == 400 and "Lien non valide" in missing.text


async def test_invitation_accepted_invites_to_log_in(portal, fake, gw):
    fake.on("POST", "/auth/invitation/accept", httpx.Response(204))
    async with portal(fake) as client:
        response = await client.post("/invitation", data=gw.with_csrf(client, {
            "jeton": "inv", "password": "un long mot de passe",
            "password_confirmation": "un long mot de passe"}))
        login = (await client.get(response.headers["location"])).text
    assert "Votre compte est activé." in login
    assert "Connexion au portail de la famille" in login


# --- First sign-up -------------------------------------------------------------------------

SIGNUP_FORM = {"family_name": "Martin", "email": "claire.martin@example.fr",
               "first_name": "Claire", "last_name": "Martin",
               "password": "un long mot de passe", "password_confirmation": "un long mot de passe"}


async def test_signup_asks_to_confirm_the_address_then_shows_the_login_form(portal, fake, gw):
    fake.on("POST", "/auth/signup", httpx.Response(202, json={"message": "Demande enregistrée."}))
    async with portal(fake) as client:
        form = (await client.get("/inscription")).text
        for label in ("Nom de la famille", "Prénom", "Nom", "Adresse e-mail", "Mot de passe",
                      "Confirmation du mot de passe"):
            assert f">{label} <span class=\"required\"" in form, label
        assert "Vous pourrez vous connecter tout de suite" not in form
        assert "ouvrez le lien qu&#39;il contient pour activer votre compte" in form
        response = await client.post("/inscription", data=gw.with_csrf(client, SIGNUP_FORM))
        assert response.status_code == 303
        login = (await client.get(response.headers["location"])).text
    assert fake.body("POST", "/auth/signup") == {
        "family_name": "Martin", "email": "claire.martin@example.fr",
        "password": "un long mot de passe",
        "guardian": {"first_name": "Claire", "last_name": "Martin"}}
    # The same page whether or not the address had an account (identity answers the same).
    assert "Ouvrez le lien que nous venons d&#39;envoyer" in login
    assert "vous pouvez dès maintenant vous connecter" not in login
    assert '<form method="post" action="/connexion"' in login


async def test_signup_field_errors_and_throttling(portal, fake, gw):
    fake.on("POST", "/auth/signup", gw.problem(422, "Données invalides", erreurs=[
        {"champ": "guardian.first_name", "message": "Le prénom est trop long."}]))
    async with portal(fake) as client:
        invalid = await client.post("/inscription", data=gw.with_csrf(client, SIGNUP_FORM))
        fake.on("POST", "/auth/signup", gw.problem(
            429, "Trop de tentatives d'inscription : réessayez dans 60 minutes."))
        throttled = await client.post("/inscription", data=gw.with_csrf(client, SIGNUP_FORM))
    assert invalid.status_code == 422
    assert '<a href="#first_name">Le prénom est trop long.</a>' in invalid.text
    assert 'value="Martin"' in invalid.text and "un long mot de passe" not in invalid.text
    assert throttled.status_code == 429
    assert "Trop de tentatives d&#39;inscription" in throttled.text


async def test_confirmation_link_activates_only_through_the_button(portal, fake, gw):
    fake.on("POST", "/auth/signup/confirm", httpx.Response(204))
    async with portal(fake) as client:
        page = await client.get("/inscription/confirmer?jeton=jeton-de-confirmation")
        # Opening the link (a mail scanner does) changes nothing.
        assert fake.sent("POST", "/auth/signup/confirm") == []
        assert page.status_code == 200
        assert 'action="/inscription/confirmer"' in page.text
        assert 'name="jeton" value="jeton-de-confirmation"' in page.text
        response = await client.post("/inscription/confirmer", data=gw.with_csrf(
            client, {"jeton": "jeton-de-confirmation"}))
        assert response.status_code == 303
        login = (await client.get(response.headers["location"])).text
    assert fake.body("POST", "/auth/signup/confirm") == {"token": "jeton-de-confirmation"}
    assert "Votre adresse e-mail est confirmée et votre compte activé." in login


async def test_confirmation_link_used_or_missing(portal, fake, gw):
    fake.on("POST", "/auth/signup/confirm", gw.problem(
        400, "Ce lien de confirmation n'est plus valide : il a déjà servi ou il a expiré."))
    async with portal(fake) as client:
        used = await client.post("/inscription/confirmer", data=gw.with_csrf(
            client, {"jeton": "jeton-deja-utilise"}))
        missing = await client.get("/inscription/confirmer")
    assert used.status_code == 400
    assert "Ce lien de confirmation n&#39;est plus valide" in used.text
    assert "Inscrivez-vous de nouveau" in used.text
    assert missing.status_code == 400
