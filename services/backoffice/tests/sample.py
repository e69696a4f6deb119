"""Identity answers shaped as services/identity/API.md describes them (staff part).

Built from identity's own models (`marelle_contracts.http.identity`) and dumped as identity sends
them; `gateway/tests/test_contract_fakes.py` checks them against identity's real OpenAPI.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import jwt
from pydantic import BaseModel

from marelle_contracts.http import identity as I

from marelle_backoffice import identity as bo_identity

from .conftest import make_token, problem

FAMILY_ID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
OTHER_FAMILY_ID = "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
GUARDIAN_ID = "11111111-2222-4333-8444-555555555555"
CHILD_ID = "22222222-3333-4444-8555-666666666666"
REQUEST_1 = "aaaaaaaa-1111-4111-8111-111111111111"
REQUEST_2 = "bbbbbbbb-2222-4222-8222-222222222222"
REQUEST_3 = "cccccccc-3333-4333-8333-333333333333"


def answer(model: BaseModel) -> dict[str, Any]:
    """A contract model as the service sends it (dumped to JSON)."""
    return model.model_dump(mode="json")


SEARCH = answer(I.FamilySummaries(items=[
    I.FamilySummary(id=FAMILY_ID, name="Martin", email="famille.martin@example.fr",
                    needs_review=True, children=["Léa Martin", "Hugo Martin"],
                    created_at="2025-01-31T23:30:00+00:00"),
    I.FamilySummary(id=OTHER_FAMILY_ID, name="Nguyen", email="nguyen@example.fr",
                    needs_review=False, children=[], created_at="2024-09-02T08:00:00+00:00"),
]))

FAMILY = answer(I.StaffFamilyDetail(
    family=I.Family(id=FAMILY_ID, name="Martin", email="famille.martin@example.fr",
                    needs_review=True, persons=[
                        I.Person(id=GUARDIAN_ID, role="guardian", rank=1, first_name="Claire",
                                 last_name="Martin", birth_date="1985-04-02", sex="F", age=40),
                        I.Person(id=CHILD_ID, role="child", rank=None, first_name="Léa",
                                 last_name="Martin", birth_date="2017-09-14", sex="F", age=7),
                    ]),
    contact=I.Contact(email="famille.martin@example.fr", home_phone="+33123456789",
                      home_phone_display="01 23 45 67 89", beneficiary_name="Claire Martin",
                      beneficiary_scheme="CAF", beneficiary_number="1234567",
                      guardians=[I.GuardianContact(
                          person_id=GUARDIAN_ID, rank=1, first_name="Claire", last_name="Martin",
                          mobile_phone="+33612345678", mobile_phone_display="06 12 34 56 78",
                          work_phone=None, work_phone_display=None)],
                      pending_request=None),
    requests=[
        I.ContactChangeRequest(
            id=REQUEST_1, status="refusee", reason="Numéro d'allocataire inconnu de la CAF",
            changes={"beneficiary_number": {"before": "1234567", "after": "7654321"}},
            created_at="2025-03-01T09:00:00+00:00", decided_at="2025-03-02T10:15:00+00:00"),
    ],
    account=I.AccountState(status="invitee", activated_at=None),
))

PENDING = answer(I.PendingContactChanges(items=[
    I.PendingContactChange(
        id=REQUEST_2, family_id=OTHER_FAMILY_ID, family_name="Nguyen", status="en_attente",
        changes={"beneficiary_scheme": {"before": "CAF", "after": "MSA"}}, reason=None,
        created_at="2025-03-04T16:20:00+00:00", decided_at=None),
    I.PendingContactChange(
        id=REQUEST_1, family_id=FAMILY_ID, family_name="Martin", status="en_attente",
        changes={"home_phone": {"before": "+33123456789", "after": "+33987654321"},
                 f"guardian_phones.{GUARDIAN_ID}.mobile_phone":
                     {"before": "+33612345678", "after": None}},
        reason=None, created_at="2025-03-03T08:05:00+00:00", decided_at=None),
]))


# --- staff accounts (administrator) and the staff login (issue #11) -----------------------------

ADMIN_ID = "51515151-0000-4000-8000-000000000001"
MANAGER_ID = "51515151-0000-4000-8000-000000000002"
NEWCOMER_ID = "51515151-0000-4000-8000-000000000003"

STAFF_ACCOUNTS = answer(bo_identity.StaffAccountsOut(items=[
    bo_identity.StaffAccountOut(id=ADMIN_ID, email="camille@ville.test",
                                display_name="Camille Agent", roles=["administrator", "manager"]),
    bo_identity.StaffAccountOut(id=MANAGER_ID, email="dominique@ville.test",
                                display_name="Dominique Gestion", roles=["manager"],
                                disabled=True),
    bo_identity.StaffAccountOut(id=NEWCOMER_ID, email="nouvel.agent@ville.test",
                                display_name="Nouvel Agent", roles=["manager"],
                                must_change_password=True),
]))


class StaffIdentity:
    """Identity's staff accounts and staff login, with identity's rules and French sentences
    (services/identity/API.md; usecases/staff.py and accounts.py): installed on a `FakeServices`.

    The acting administrator is the token's `sub`; passwords by email; `one_time` the emails
    whose password must be changed before a login opens a session.
    """

    DISABLED = "Ce compte du personnel est désactivé ; adressez-vous à un administrateur."
    MUST_CHANGE = ("Changez votre mot de passe : celui-ci a été attribué pour la première "
                   "connexion et doit être remplacé avant d'accéder à l'espace du personnel.")
    BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
    WRONG_CURRENT = "Le mot de passe actuel est incorrect."
    NOT_FOUND = "Ce compte du personnel est introuvable."

    def __init__(self, fake: Any) -> None:
        self.accounts = {a["id"]: a for a in copy.deepcopy(STAFF_ACCOUNTS)["items"]}
        self.passwords = {"camille@ville.test": "le bon mot de passe",
                          "dominique@ville.test": "le bon mot de passe",
                          "nouvel.agent@ville.test": "provisoire-123"}
        fake.on("GET", "identity", "/staff/accounts",
                lambda _: {"items": list(self.accounts.values())})
        for account_id in (*self.accounts, "51515151-0000-4000-8000-00000000dead"):
            fake.on("POST", "identity", f"/staff/accounts/{account_id}/disable",
                    lambda r, i=account_id: self._disable(r, i, True))
            fake.on("POST", "identity", f"/staff/accounts/{account_id}/enable",
                    lambda r, i=account_id: self._disable(r, i, False))
            fake.on("PUT", "identity", f"/staff/accounts/{account_id}/roles",
                    lambda r, i=account_id: self._roles(r, i))
        fake.on("POST", "identity", "/auth/staff/token", self._login)
        fake.on("POST", "identity", "/auth/staff/password", self._change_password)

    @staticmethod
    def _actor(request: Any) -> str:
        token = request.headers["authorization"].removeprefix("Bearer ")
        return jwt.decode(token, options={"verify_signature": False})["sub"]

    def _disable(self, request: Any, account_id: str, disabled: bool) -> Any:
        if disabled and self._actor(request) == account_id:
            return problem(409, "Vous ne pouvez pas désactiver votre propre compte ; demandez-le "
                                "à un autre administrateur.")
        if account_id not in self.accounts:
            return problem(404, self.NOT_FOUND)
        self.accounts[account_id]["disabled"] = disabled
        return httpx.Response(204)

    def _roles(self, request: Any, account_id: str) -> Any:
        roles = json.loads(request.content)["roles"]
        if not roles or set(roles) - {"administrator", "manager"}:
            return problem(422, "Choisissez au moins un rôle : administrateur ou gestionnaire.",
                           [{"champ": "roles", "message": "Rôle inconnu ou manquant."}])
        if "administrator" not in roles and self._actor(request) == account_id:
            return problem(409, "Vous ne pouvez pas retirer le rôle d'administrateur de votre "
                                "propre compte ; demandez-le à un autre administrateur.")
        if account_id not in self.accounts:
            return problem(404, self.NOT_FOUND)
        self.accounts[account_id]["roles"] = roles
        return httpx.Response(204)

    def _by_email(self, email: str) -> dict[str, Any] | None:
        return next((a for a in self.accounts.values() if a["email"] == email), None)

    def _login(self, request: Any) -> Any:
        body = json.loads(request.content)
        account = self._by_email(body["email"])
        if account is None or self.passwords.get(body["email"]) != body["password"]:
            return problem(401, self.BAD_CREDENTIALS)
        if account["disabled"]:
            return problem(403, self.DISABLED)
        if account["must_change_password"]:
            response = problem(403, self.MUST_CHANGE)
            return httpx.Response(403, json={**response.json(),
                                             "raison": "mot_de_passe_a_changer"},
                                  headers={"content-type": "application/problem+json"})
        token = make_token(roles=tuple(account["roles"]), sub=account["id"],
                           name=account["display_name"], email=account["email"])
        return {"access_token": token, "refresh_token": None, "token_type": "Bearer",
                "expires_in": 900}

    def _change_password(self, request: Any) -> Any:
        body = json.loads(request.content)
        account = self._by_email(body["email"])
        if account is None or self.passwords.get(body["email"]) != body["current_password"]:
            return problem(400, self.WRONG_CURRENT, [{"champ": "current_password",
                                                      "message": self.WRONG_CURRENT}])
        if account["disabled"]:
            return problem(403, self.DISABLED)
        new = body["new_password"]
        if len(new) < 10:
            message = "Le mot de passe doit contenir au moins 10 caractères."
            return problem(422, message, [{"champ": "new_password", "message": message}])
        if new == body["current_password"]:
            message = "Choisissez un mot de passe différent de l'actuel."
            return problem(422, message, [{"champ": "new_password", "message": message}])
        self.passwords[body["email"]] = new
        account["must_change_password"] = False
        return httpx.Response(204)
