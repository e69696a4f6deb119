"""The identity endpoints the back-office calls (services/identity/API.md, staff part)."""

from __future__ import annotations

from typing import Any

from marelle_backoffice.clients import Services


async def staff_token(services: Services, email: str, password: str,
                      client_ip: str | None) -> dict[str, Any]:
    """`POST /auth/staff/token`; 401/429 arrive as `UpstreamProblem` (identity's French detail)."""
    response = await services.call("identity", "POST", "/auth/staff/token", client_ip=client_ip,
                                   json={"email": email, "password": password})
    return response.json()


class Identity:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.services.call("identity", method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        return response.json() if response.content else None

    async def search_families(self, q: str, needs_review: bool | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"q": q}
        if needs_review is not None:
            params["needs_review"] = "true" if needs_review else "false"
        return (await self._call("GET", "/staff/families", params=params))["items"]

    async def family(self, family_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/families/{family_id}")

    async def create_family(self, body: dict[str, Any]) -> str:
        return str((await self._call("POST", "/staff/families", json=body))["family_id"])

    async def resend_invitation(self, family_id: str) -> None:
        await self._call("POST", f"/staff/families/{family_id}/invitation")

    async def change_email(self, family_id: str, email: str) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/families/{family_id}/email", json={"email": email})

    async def mark_reviewed(self, family_id: str) -> None:
        await self._call("POST", f"/staff/families/{family_id}/review")

    async def pending_requests(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/contact-change-requests",
                                 params={"status": "en_attente"}))["items"]

    async def decide(self, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = await self._call("POST", "/staff/contact-change-requests/decisions",
                                json={"decisions": decisions})
        return body["results"]

    async def audit(self, limit: int) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/audit", params={"limit": limit}))["items"]

    async def accounts(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/accounts"))["items"]

    async def create_account(self, body: dict[str, Any]) -> None:
        await self._call("POST", "/staff/accounts", json=body)
