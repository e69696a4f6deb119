"""The booking endpoints the back-office calls (services/booking/API.md, staff part).

Bodies and answers are booking's own models (`marelle_contracts.http.booking`); the period copy
(`GET /staff/periods/{id}`, the chassis' catalogue copy) is read with the chassis' model and its
groups with enrolment's event model (`GroupFacts`), which is what the copy stores. The chart and
the spreadsheet are not JSON: their media type is checked instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from marelle_chassis.audit import AuditEntries
from marelle_chassis.catalogue_copy import PeriodCopy
from marelle_contracts.enrolment import GroupFacts
from marelle_contracts.http import booking as contract

from marelle_backoffice.clients import (
    ServiceUnavailable,
    Services,
    UpstreamProblem,
    checked_answer,
    request_body,
)

SERVICE = "booking"
_GROUPS = TypeAdapter(list[GroupFacts])


def body_of(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` as booking's request body; a 422 `UpstreamProblem` (French fields) if invalid."""
    return request_body(SERVICE, model, data)


@dataclass(frozen=True)
class Download:
    """A non-JSON answer passed on to the browser (the occupancy chart or spreadsheet)."""

    content: bytes
    media_type: str


class Booking:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, answer: type[Any] | None = None,
                    **kwargs: Any) -> Any:
        response = await self.services.call(SERVICE, method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        body = response.json() if response.content else None
        return checked_answer(SERVICE, answer, body) if answer else body

    async def audit(self, limit: int, staff: str | None = None) -> list[dict[str, Any]]:
        """This service's staff audit log (issue #11), newest first."""
        params: dict[str, Any] = {"limit": limit, **({"staff": staff} if staff else {})}
        return (await self._call("GET", "/staff/audit", AuditEntries, params=params))["items"]

    async def _download(self, path: str, media_type: str, params: dict[str, str]) -> Download:
        response = await self.services.call(SERVICE, "GET", path, token=self.token,
                                            client_ip=self.client_ip, params=params)
        if response.headers.get("content-type", "").split(";")[0].strip() != media_type:
            raise ServiceUnavailable(SERVICE)  # another shape: an outage, never passed on
        return Download(response.content, media_type)

    # --- the period (booking's copy of enrolment's catalogue) ---------------------------------

    async def period(self, period_id: str) -> dict[str, Any]:
        body = await self._call("GET", f"/staff/periods/{period_id}", PeriodCopy)
        try:
            _GROUPS.validate_python(body.get("groups"))
        except ValidationError:
            raise ServiceUnavailable(SERVICE) from None
        return body

    # --- calendars ------------------------------------------------------------------------------

    async def calendar(self, period_id: str) -> dict[str, Any] | None:
        """The period's calendar and options; None until it is configured (404)."""
        try:
            return await self._call("GET", f"/staff/calendars/{period_id}",
                                    contract.CalendarSettings)
        except UpstreamProblem as problem:
            if problem.status == 404:
                return None
            raise

    async def save_calendar(self, period_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/calendars/{period_id}", contract.CalendarSettings,
                                json=body_of(contract.CalendarSettingsIn, data))

    # --- a day: its children, its waiting list, promote and cancel ------------------------------

    async def day_children(self, period_id: str, day: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/calendars/{period_id}/days/{day}/children",
                                contract.DayList)

    async def day_waiting_list(self, period_id: str, day: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/calendars/{period_id}/days/{day}/waiting-list",
                                contract.DayWaitingList)

    async def promote(self, reservation_id: str) -> None:
        await self._call("POST", f"/staff/reservations/{reservation_id}/promote")

    async def cancel(self, reservation_id: str) -> None:
        await self._call("POST", f"/staff/reservations/{reservation_id}/cancel")

    # --- occupancy ------------------------------------------------------------------------------

    async def occupancy(self, period_id: str, start: str, end: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/calendars/{period_id}/occupancy",
                                contract.Occupancy, params={"start": start, "end": end})

    async def occupancy_chart(self, period_id: str, start: str, end: str) -> Download:
        return await self._download(f"/staff/calendars/{period_id}/occupancy.svg",
                                    "image/svg+xml", {"start": start, "end": end})

    async def occupancy_csv(self, period_id: str, start: str, end: str) -> Download:
        return await self._download(f"/staff/calendars/{period_id}/occupancy.csv", "text/csv",
                                    {"start": start, "end": end})

    # --- shuttles -------------------------------------------------------------------------------

    async def shuttle_lines(self, period_id: str) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/shuttle-lines", contract.ShuttleLines,
                                 params={"period_id": period_id}))["items"]

    async def create_shuttle_line(self, data: dict[str, Any]) -> str:
        created = await self._call("POST", "/staff/shuttle-lines", contract.Created,
                                   json=body_of(contract.ShuttleLineIn, data))
        return str(created["id"])

    async def update_shuttle_line(self, line_id: str, data: dict[str, Any]) -> None:
        await self._call("PUT", f"/staff/shuttle-lines/{line_id}",
                         json=body_of(contract.ShuttleLineIn, data))

    # --- roll calls -----------------------------------------------------------------------------

    @staticmethod
    def _roll_call_path(period_id: str, group_id: str, day: str) -> str:
        return f"/staff/roll-calls/{period_id}/{group_id}/{day}"

    async def roll_call(self, period_id: str, group_id: str, day: str) -> dict[str, Any]:
        return await self._call("GET", self._roll_call_path(period_id, group_id, day),
                                contract.RollCall)

    async def record_roll_call(self, period_id: str, group_id: str, day: str,
                               records: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("PUT", self._roll_call_path(period_id, group_id, day),
                                contract.RollCall,
                                json=body_of(contract.RollCallRecordsIn, {"records": records}))

    async def lock_roll_call(self, period_id: str, group_id: str, day: str) -> dict[str, Any]:
        return await self._call("POST", self._roll_call_path(period_id, group_id, day) + "/lock",
                                contract.RollCall)

    async def unlock_roll_call(self, period_id: str, group_id: str, day: str,
                               reason: str) -> dict[str, Any]:
        return await self._call("POST",
                                self._roll_call_path(period_id, group_id, day) + "/unlock",
                                contract.RollCall,
                                json=body_of(contract.ReasonIn, {"reason": reason}))
