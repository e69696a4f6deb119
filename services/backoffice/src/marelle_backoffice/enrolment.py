"""The enrolment endpoints the back-office calls (services/enrolment/API.md, staff part).

Bodies and answers are enrolment's own models (`marelle_contracts.http.enrolment`).
"""

from __future__ import annotations

from typing import Any

from marelle_chassis.audit import AuditEntries
from marelle_contracts.http import enrolment as contract

from marelle_backoffice.clients import Services, checked_answer, request_body


def _body(model: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    return request_body("enrolment", model, data)


class Enrolment:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, answer: type[Any] | None = None,
                    **kwargs: Any) -> Any:
        response = await self.services.call("enrolment", method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        body = response.json() if response.content else None
        return checked_answer("enrolment", answer, body) if answer else body

    async def audit(self, limit: int, staff: str | None = None) -> list[dict[str, Any]]:
        """This service's staff audit log (issue #11), newest first."""
        params: dict[str, Any] = {"limit": limit, **({"staff": staff} if staff else {})}
        return (await self._call("GET", "/staff/audit", AuditEntries, params=params))["items"]

    async def _create(self, path: str, model: type[Any], data: dict[str, Any]) -> str:
        return str((await self._call("POST", path, contract.Created,
                                     json=_body(model, data)))["id"])

    # --- catalogue ------------------------------------------------------------------------------

    async def catalogue(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/catalogue", contract.Catalogue))["facilities"]

    async def create_facility(self, name: str) -> str:
        return await self._create("/staff/facilities", contract.NameIn, {"name": name})

    async def create_activity_type(self, facility_id: str, name: str) -> str:
        return await self._create("/staff/activity-types", contract.ActivityTypeIn,
                                  {"facility_id": facility_id, "name": name})

    async def create_activity(self, activity_type_id: str, name: str,
                              pre_registration: bool) -> str:
        return await self._create("/staff/activities", contract.ActivityIn,
                                  {"activity_type_id": activity_type_id, "name": name,
                                   "pre_registration": pre_registration})

    async def create_period(self, activity_id: str, period: dict[str, Any]) -> str:
        return await self._create("/staff/periods", contract.NewPeriodIn,
                                  {"activity_id": activity_id, **period})

    async def update_period(self, period_id: str, period: dict[str, Any]) -> None:
        await self._call("PUT", f"/staff/periods/{period_id}",
                         json=_body(contract.PeriodIn, period))

    async def close_period(self, period_id: str) -> None:
        await self._call("POST", f"/staff/periods/{period_id}/close")

    async def create_group(self, period_id: str, group: dict[str, Any]) -> str:
        return await self._create("/staff/groups", contract.NewGroupIn,
                                  {"period_id": period_id, **group})

    async def update_group(self, group_id: str, group: dict[str, Any]) -> None:
        await self._call("PUT", f"/staff/groups/{group_id}", json=_body(contract.GroupIn, group))

    # --- registration requests ------------------------------------------------------------------

    async def registrations(self, status: str = "en_attente",
                            **filters: str) -> list[dict[str, Any]]:
        """`filters`: facility_id, period_id, group_id, requested_from, requested_to."""
        params = {"status": status, **{k: v for k, v in filters.items() if v}}
        return (await self._call("GET", "/staff/registrations", contract.StaffRegistrations,
                                 params=params))["items"]

    async def decide(self, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = await self._call("POST", "/staff/registrations/decisions",
                                contract.DecisionResults,
                                json=_body(contract.DecisionsIn, {"decisions": decisions}))
        return body["results"]

    # --- the opening queue (docs/opening-rush.md) ------------------------------------------------

    async def opening(self, period_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/openings/{period_id}", contract.OpeningStatus)

    # --- waiting lists --------------------------------------------------------------------------

    async def waiting_list(self, group_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/groups/{group_id}/waiting-list",
                                contract.WaitingList)

    async def reorder_waiting_list(self, group_id: str, registration_ids: list[str]) -> None:
        await self._call("PUT", f"/staff/groups/{group_id}/waiting-list",
                         json=_body(contract.OrderIn, {"registration_ids": registration_ids}))

    async def promote(self, registration_id: str) -> None:
        await self._call("POST", f"/staff/registrations/{registration_id}/promote")

    async def remove_from_waiting_list(self, registration_id: str, reason: str | None) -> None:
        # Enrolment requires a body, even without a reason.
        await self._call("POST", f"/staff/registrations/{registration_id}/remove-from-waiting-list",
                         json=_body(contract.ReasonIn, {"reason": reason} if reason else {}))

    # --- attestations ---------------------------------------------------------------------------

    async def attestation_requests(self, status: str = "demandee") -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/attestation-requests", contract.StaffAttestations,
                                 params={"status": status}))["items"]

    async def issue_attestation(self, attestation_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/staff/attestation-requests/{attestation_id}/issue",
                                contract.Attestation)

    # --- school classes (from the schools' system) ----------------------------------------------

    async def classes(self, school_year: str) -> dict[str, Any]:
        return await self._call("GET", "/staff/classes", contract.SchoolClasses,
                                params={"school_year": school_year})

    async def class_children(self, school_year: str, school_id: str,
                             class_name: str) -> dict[str, Any]:
        return await self._call("GET", "/staff/classes/children", contract.ClassChildren,
                                params={"school_year": school_year, "school_id": school_id,
                                        "class_name": class_name})
