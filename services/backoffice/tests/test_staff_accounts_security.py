"""Issue #11, staff part, in the back-office: administrators disable, re-enable and change the
roles of staff accounts (identity's rules and French refusals shown by the forms); a one-time
password is replaced at the login before any session; a disabled account cannot log in.

Identity is `sample.StaffIdentity` (its rules and sentences, checked against its real OpenAPI in
`test_contract_fakes.py`)."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import csrf_of, post_form, sign_in
from .sample import ADMIN_ID, MANAGER_ID, NEWCOMER_ID, StaffIdentity

ADMIN = {"roles": ("administrator", "manager"), "sub": ADMIN_ID}


def _row(html: str, email: str) -> str:
    """The table row of one account."""
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    [row] = [r for r in rows if f"<td>{email}</td>" in r]
    return row


def _session_cookies(response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie")
            if c.startswith("marelle_staff=") and not c.startswith('marelle_staff="";')]


# --- the staff accounts page ----------------------------------------------------------------------

async def test_the_list_shows_disabled_accounts_and_passwords_to_change(backoffice, fake):
    StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        html = (await client.get("/agents")).text
    active, disabled, newcomer = (_row(html, e) for e in (
        "camille@ville.test", "dominique@ville.test", "nouvel.agent@ville.test"))
    assert "Actif" in active and "Désactivé" not in active
    assert "Désactivé" in disabled and "Mot de passe à changer" not in disabled
    assert "Mot de passe à changer" in newcomer
    # The action each account needs: disabling the active ones, re-enabling the disabled one.
    assert f'action="/agents/{ADMIN_ID}/desactiver"' in active and "Réactiver" not in active
    assert f'action="/agents/{MANAGER_ID}/reactiver"' in disabled and ">Désactiver<" not in disabled
    assert f'action="/agents/{NEWCOMER_ID}/roles"' in newcomer
    assert re.search(rf'id="roles-{ADMIN_ID}-administrator" name="roles" '
                     r'value="administrator" checked', active)
    assert not re.search(rf'id="roles-{NEWCOMER_ID}-administrator"[^>]*checked', newcomer)
    assert "Modifier les rôles" in newcomer


async def test_disabling_asks_for_confirmation_first(backoffice, fake):
    identity = StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        csrf = await csrf_of(client, "/agents")
        asked = await client.post(f"/agents/{NEWCOMER_ID}/desactiver", data={"csrf": csrf})
        assert asked.status_code == 200
        assert "Désactiver le compte de Nouvel Agent (nouvel.agent@ville.test) ?" in asked.text
        assert 'name="confirme" value="oui"' in asked.text
        assert not fake.sent("POST", "identity", f"/staff/accounts/{NEWCOMER_ID}/disable")
        assert identity.accounts[NEWCOMER_ID]["disabled"] is False

        done = await client.post(f"/agents/{NEWCOMER_ID}/desactiver",
                                 data={"csrf": csrf, "confirme": "oui"})
        assert done.status_code == 303
        assert done.headers["location"] == "/agents?message=agent_desactive"
        shown = await client.get(done.headers["location"])
    [sent] = fake.sent("POST", "identity", f"/staff/accounts/{NEWCOMER_ID}/disable")
    assert sent.headers["authorization"].startswith("Bearer ")
    assert "ses sessions sont fermées" in shown.text
    assert "Désactivé" in _row(shown.text, "nouvel.agent@ville.test")


async def test_reenabling_asks_for_confirmation_first(backoffice, fake):
    identity = StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        csrf = await csrf_of(client, "/agents")
        asked = await client.post(f"/agents/{MANAGER_ID}/reactiver", data={"csrf": csrf})
        assert "Réactiver le compte de Dominique Gestion" in asked.text
        assert not fake.sent("POST", "identity", f"/staff/accounts/{MANAGER_ID}/enable")
        done = await client.post(f"/agents/{MANAGER_ID}/reactiver",
                                 data={"csrf": csrf, "confirme": "oui"})
        shown = await client.get(done.headers["location"])
    assert identity.accounts[MANAGER_ID]["disabled"] is False
    assert "Le compte de l&#39;agent est réactivé." in shown.text
    assert "Actif" in _row(shown.text, "dominique@ville.test")


async def test_identity_refusal_to_disable_oneself_is_shown_by_the_form(backoffice, fake):
    identity = StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        response = await client.post(f"/agents/{ADMIN_ID}/desactiver", data={
            "csrf": await csrf_of(client, "/agents"), "confirme": "oui"})
    assert response.status_code == 409
    message = ("Vous ne pouvez pas désactiver votre propre compte ; demandez-le à un autre "
               "administrateur.")
    row = _row(response.text, "camille@ville.test")
    # By the account's forms (its cell is the target of the summary's link), not elsewhere.
    assert f'id="agent-{ADMIN_ID}-erreur"' in row and message.replace("'", "&#39;") in row
    assert f'<a href="#agent-{ADMIN_ID}">' in response.text
    assert identity.accounts[ADMIN_ID]["disabled"] is False


async def test_roles_are_changed_and_identity_refusals_shown(backoffice, fake):
    identity = StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        csrf = await csrf_of(client, "/agents")
        done = await client.post(f"/agents/{NEWCOMER_ID}/roles",
                                 data={"csrf": csrf, "roles": ["administrator", "manager"]})
        assert done.status_code == 303
        shown = await client.get(done.headers["location"])
        # Removing one's own administrator role: identity's 409, by the form, roles as typed.
        own = await client.post(f"/agents/{ADMIN_ID}/roles",
                                data={"csrf": csrf, "roles": ["manager"]})
        # No role: refused here as identity would, without a call.
        none = await client.post(f"/agents/{MANAGER_ID}/roles", data={"csrf": csrf})
    [sent] = fake.sent("PUT", "identity", f"/staff/accounts/{NEWCOMER_ID}/roles")
    assert json.loads(sent.content) == {"roles": ["administrator", "manager"]}
    assert identity.accounts[NEWCOMER_ID]["roles"] == ["administrator", "manager"]
    assert "Les rôles de l&#39;agent sont modifiés" in shown.text
    assert own.status_code == 409
    row = _row(own.text, "camille@ville.test")
    assert "Vous ne pouvez pas retirer le rôle d&#39;administrateur de votre propre compte" in row
    assert not re.search(rf'id="roles-{ADMIN_ID}-administrator"[^>]*checked', row)
    assert identity.accounts[ADMIN_ID]["roles"] == ["administrator", "manager"]
    assert none.status_code == 422
    assert "Cochez au moins un rôle." in _row(none.text, "dominique@ville.test")
    assert not fake.sent("PUT", "identity", f"/staff/accounts/{MANAGER_ID}/roles")


async def test_an_unknown_account_is_a_french_404(backoffice, fake):
    StaffIdentity(fake)
    gone = "51515151-0000-4000-8000-00000000dead"
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        csrf = await csrf_of(client, "/agents")
        asked = await client.post(f"/agents/{gone}/desactiver", data={"csrf": csrf})
        confirmed = await client.post(f"/agents/{gone}/desactiver",
                                      data={"csrf": csrf, "confirme": "oui"})
        not_an_id = await client.post("/agents/..%2Fstaff%2Faudit/desactiver",
                                      data={"csrf": csrf, "confirme": "oui"})
    assert asked.status_code == 404 and "introuvable" in asked.text.lower()
    assert confirmed.status_code == 404
    assert "Ce compte du personnel est introuvable." in confirmed.text
    assert not_an_id.status_code == 404
    assert not [r for r in fake.domain_calls() if "audit" in r.url.path]


@pytest.mark.parametrize("action", ["desactiver", "reactiver", "roles"])
async def test_a_manager_cannot_act_on_staff_accounts(backoffice, fake, action):
    StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",), sub=MANAGER_ID)
        page = await client.get("/agents")
        csrf = await csrf_of(client, "/sante")
        response = await client.post(f"/agents/{NEWCOMER_ID}/{action}",
                                     data={"csrf": csrf, "confirme": "oui",
                                           "roles": ["administrator"]})
    assert page.status_code == 403 and "Accès réservé aux administrateurs" in page.text
    assert response.status_code == 403
    assert "Accès réservé aux administrateurs" in response.text
    assert not fake.domain_calls()


async def test_account_actions_need_the_csrf_token(backoffice, fake):
    StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, **ADMIN)
        await csrf_of(client, "/agents")
        response = await client.post(f"/agents/{NEWCOMER_ID}/desactiver",
                                     data={"confirme": "oui"})
    assert response.status_code == 403
    assert not fake.sent("POST", "identity", f"/staff/accounts/{NEWCOMER_ID}/disable")


# --- the staff login ------------------------------------------------------------------------------

async def test_a_one_time_password_must_be_changed_before_any_session(backoffice, fake):
    identity = StaffIdentity(fake)
    async with backoffice(fake) as client:
        refused = await post_form(client, "/connexion", {
            "identifiant": "nouvel.agent@ville.test", "mot_de_passe": "provisoire-123"})
        assert "Choisissez votre nouveau mot de passe" in refused.text
        assert "Changez votre mot de passe : celui-ci a été attribué" in refused.text
        assert 'action="/connexion/nouveau-mot-de-passe"' in refused.text
        assert 'value="nouvel.agent@ville.test"' in refused.text
        assert "provisoire-123" not in refused.text  # never echoed back
        assert not _session_cookies(refused)
        assert (await client.get("/agents")).status_code == 303  # still not logged in

        changed = await post_form(client, "/connexion/nouveau-mot-de-passe", {
            "identifiant": "nouvel.agent@ville.test", "mot_de_passe_actuel": "provisoire-123",
            "nouveau_mot_de_passe": "un nouveau mot de passe",
            "confirmation": "un nouveau mot de passe"})
        assert changed.status_code == 303
        assert changed.headers["location"] == "/connexion?motif=mot_de_passe_change"
        assert not _session_cookies(changed)
        back = await client.get(changed.headers["location"])
        logged_in = await post_form(client, "/connexion", {
            "identifiant": "nouvel.agent@ville.test",
            "mot_de_passe": "un nouveau mot de passe"})
    [sent] = fake.sent("POST", "identity", "/auth/staff/password")
    assert json.loads(sent.content) == {"email": "nouvel.agent@ville.test",
                                        "current_password": "provisoire-123",
                                        "new_password": "un nouveau mot de passe"}
    assert "authorization" not in sent.headers
    assert "Mot de passe changé : connectez-vous." in back.text
    assert identity.accounts[NEWCOMER_ID]["must_change_password"] is False
    assert logged_in.status_code == 303 and _session_cookies(logged_in)


async def test_password_change_errors_are_on_the_fields(backoffice, fake):
    StaffIdentity(fake)
    form = {"identifiant": "nouvel.agent@ville.test", "mot_de_passe_actuel": "provisoire-123",
            "nouveau_mot_de_passe": "un nouveau mot de passe", "confirmation": "autre chose"}
    async with backoffice(fake) as client:
        mismatch = await post_form(client, "/connexion/nouveau-mot-de-passe", form)
        assert not fake.sent("POST", "identity", "/auth/staff/password")
        wrong = await post_form(client, "/connexion/nouveau-mot-de-passe", {
            **form, "mot_de_passe_actuel": "pas le bon", "confirmation": form[
                "nouveau_mot_de_passe"]})
        weak = await post_form(client, "/connexion/nouveau-mot-de-passe", {
            **form, "nouveau_mot_de_passe": "court", "confirmation": "court"})
    assert mismatch.status_code == 422
    assert ('<a href="#confirmation">La confirmation ne correspond pas au nouveau mot de '
            'passe.</a>') in mismatch.text
    assert wrong.status_code == 400
    assert '<a href="#mot-de-passe-actuel">Le mot de passe actuel est incorrect.</a>' in wrong.text
    assert weak.status_code == 422
    assert ('<a href="#nouveau-mot-de-passe">Le mot de passe doit contenir au moins 10 '
            'caractères.</a>') in weak.text
    for page in (mismatch, wrong, weak):
        assert "provisoire-123" not in page.text and "pas le bon" not in page.text


async def test_a_disabled_account_cannot_log_in(backoffice, fake):
    StaffIdentity(fake)
    async with backoffice(fake) as client:
        response = await post_form(client, "/connexion", {
            "identifiant": "dominique@ville.test", "mot_de_passe": "le bon mot de passe"})
    assert response.status_code == 403
    assert "Ce compte du personnel est désactivé ; adressez-vous à un administrateur." in \
        response.text
    assert "Choisissez votre nouveau mot de passe" not in response.text
    assert not _session_cookies(response)
