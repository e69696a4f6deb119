"""The identity endpoints the back-office calls (services/identity/API.md, staff part).

Bodies and answers are identity's own models (`marelle_contracts.http.identity`).
"""

from __future__ import annotations

from typing import Any

from marelle_contracts.http import identity as contract
# Identity's bodies added for issue #11: the shared contracts' (never copied), re-exported.
from marelle_contracts.http.identity import (  # noqa: F401
    StaffAccountOut,
    StaffAccountsOut,
    StaffLoginIn,
    StaffPasswordIn,
    StaffRolesIn,
    TotpCode,
    TotpCodeIn,
    TotpSetupOut,
    TotpStatusOut,
)

from marelle_backoffice.clients import Services, checked_answer, request_body


async def staff_token(services: Services, email: str, password: str,
                      client_ip: str | None, totp_code: str | None = None) -> dict[str, Any]:
    """`POST /auth/staff/token`; 401/429 arrive as `UpstreamProblem` (identity's French detail;
    raison `code_totp_requis` when the account's second factor code is missing or wrong)."""
    body: dict[str, Any] = {"email": email, "password": password}
    if totp_code:
        body["totp_code"] = totp_code
    response = await services.call("identity", "POST", "/auth/staff/token", client_ip=client_ip,
                                   json=body)
    return checked_answer("identity", contract.TokensOut, response.json())


async def staff_change_password(services: Services, email: str, current: str, new: str,
                                client_ip: str | None) -> None:
    """`POST /auth/staff/password`, without a session (a one-time password opens none): 400 wrong
    current password, 422 weak, 429 throttled, 403 disabled, as `UpstreamProblem`."""
    body = request_body("identity", StaffPasswordIn,
                        {"email": email, "current_password": current, "new_password": new})
    await services.call("identity", "POST", "/auth/staff/password", client_ip=client_ip,
                        json=body)


class Identity:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, answer: type[Any] | None = None,
                    **kwargs: Any) -> Any:
        response = await self.services.call("identity", method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        body = response.json() if response.content else None
        return checked_answer("identity", answer, body) if answer else body

    async def search_families(self, q: str, needs_review: bool | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"q": q}
        if needs_review is not None:
            params["needs_review"] = "true" if needs_review else "false"
        return (await self._call("GET", "/staff/families", contract.FamilySummaries,
                                 params=params))["items"]

    async def family(self, family_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/families/{family_id}", contract.StaffFamilyDetail)

    async def create_family(self, body: dict[str, Any]) -> str:
        body = request_body("identity", contract.StaffFamilyIn, body)
        return str((await self._call("POST", "/staff/families", contract.FamilyCreated,
                                     json=body))["family_id"])

    async def resend_invitation(self, family_id: str) -> None:
        await self._call("POST", f"/staff/families/{family_id}/invitation")

    async def change_email(self, family_id: str, email: str) -> dict[str, Any]:
        body = request_body("identity", contract.EmailIn, {"email": email})
        return await self._call("PUT", f"/staff/families/{family_id}/email", contract.Family,
                                json=body)

    async def mark_reviewed(self, family_id: str) -> None:
        await self._call("POST", f"/staff/families/{family_id}/review")

    async def pending_requests(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/contact-change-requests",
                                 contract.PendingContactChanges,
                                 params={"status": "en_attente"}))["items"]

    async def decide(self, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = request_body("identity", contract.DecisionsIn, {"decisions": decisions})
        return (await self._call("POST", "/staff/contact-change-requests/decisions",
                                 contract.DecisionResults, json=body))["results"]

    async def audit(self, limit: int) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/audit", contract.AuditLog,
                                 params={"limit": limit}))["items"]

    async def accounts(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/accounts", StaffAccountsOut))["items"]

    async def disable_account(self, account_id: str) -> None:
        await self._call("POST", f"/staff/accounts/{account_id}/disable")

    async def enable_account(self, account_id: str) -> None:
        await self._call("POST", f"/staff/accounts/{account_id}/enable")

    async def set_roles(self, account_id: str, roles: list[str]) -> None:
        await self._call("PUT", f"/staff/accounts/{account_id}/roles",
                         json=request_body("identity", StaffRolesIn, {"roles": roles}))

    async def create_account(self, body: dict[str, Any]) -> None:
        await self._call("POST", "/staff/accounts", contract.Created,
                         json=request_body("identity", contract.StaffAccountIn, body))

    # --- the staff member's own second factor (identity's /auth/staff/totp) ---------------------

    async def totp_status(self) -> dict[str, Any]:
        return await self._call("GET", "/auth/staff/totp", TotpStatusOut)

    async def totp_setup(self) -> dict[str, Any]:
        return await self._call("POST", "/auth/staff/totp/setup", TotpSetupOut)

    async def totp_confirm(self, code: str) -> None:
        await self._call("POST", "/auth/staff/totp/confirm",
                         json=request_body("identity", TotpCodeIn, {"code": code}))

    async def totp_remove(self, code: str) -> None:
        await self._call("DELETE", "/auth/staff/totp",
                         json=request_body("identity", TotpCodeIn, {"code": code}))
