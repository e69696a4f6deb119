"""The enrolment endpoints the back-office calls (services/enrolment/API.md, staff part)."""

from __future__ import annotations

from typing import Any

from marelle_backoffice.clients import Services


class Enrolment:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.services.call("enrolment", method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        return response.json() if response.content else None

    # --- catalogue ------------------------------------------------------------------------------

    async def catalogue(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/catalogue"))["facilities"]

    async def create_facility(self, name: str) -> str:
        return str((await self._call("POST", "/staff/facilities", json={"name": name}))["id"])

    async def create_activity_type(self, facility_id: str, name: str) -> str:
        body = {"facility_id": facility_id, "name": name}
        return str((await self._call("POST", "/staff/activity-types", json=body))["id"])

    async def create_activity(self, activity_type_id: str, name: str,
                              pre_registration: bool) -> str:
        body = {"activity_type_id": activity_type_id, "name": name,
                "pre_registration": pre_registration}
        return str((await self._call("POST", "/staff/activities", json=body))["id"])

    async def create_period(self, activity_id: str, period: dict[str, Any]) -> str:
        body = {"activity_id": activity_id, **period}
        return str((await self._call("POST", "/staff/periods", json=body))["id"])

    async def update_period(self, period_id: str, period: dict[str, Any]) -> None:
        await self._call("PUT", f"/staff/periods/{period_id}", json=period)

    async def close_period(self, period_id: str) -> None:
        await self._call("POST", f"/staff/periods/{period_id}/close")

    async def create_group(self, period_id: str, group: dict[str, Any]) -> str:
        body = {"period_id": period_id, **group}
        return str((await self._call("POST", "/staff/groups", json=body))["id"])

    async def update_group(self, group_id: str, group: dict[str, Any]) -> None:
        await self._call("PUT", f"/staff/groups/{group_id}", json=group)

    # --- registration requests ------------------------------------------------------------------

    async def registrations(self, status: str = "en_attente",
                            **filters: str) -> list[dict[str, Any]]:
        """`filters`: facility_id, period_id, group_id, requested_from, requested_to."""
        params = {"status": status, **{k: v for k, v in filters.items() if v}}
        return (await self._call("GET", "/staff/registrations", params=params))["items"]

    async def decide(self, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = await self._call("POST", "/staff/registrations/decisions",
                                json={"decisions": decisions})
        return body["results"]

    # --- waiting lists --------------------------------------------------------------------------

    async def waiting_list(self, group_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/groups/{group_id}/waiting-list")

    async def reorder_waiting_list(self, group_id: str, registration_ids: list[str]) -> None:
        await self._call("PUT", f"/staff/groups/{group_id}/waiting-list",
                         json={"registration_ids": registration_ids})

    async def promote(self, registration_id: str) -> None:
        await self._call("POST", f"/staff/registrations/{registration_id}/promote")

    async def remove_from_waiting_list(self, registration_id: str, reason: str | None) -> None:
        # Enrolment requires a body, even without a reason.
        await self._call("POST", f"/staff/registrations/{registration_id}/remove-from-waiting-list",
                         json={"reason": reason} if reason else {})

    # --- attestations ---------------------------------------------------------------------------

    async def attestation_requests(self, status: str = "demandee") -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/attestation-requests",
                                 params={"status": status}))["items"]

    async def issue_attestation(self, attestation_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/staff/attestation-requests/{attestation_id}/issue")
