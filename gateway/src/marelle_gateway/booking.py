"""Calls to booking (« Mes réservations », « Liste d'attente », « Mes navettes », calendars), as
`services/booking/API.md` says.

Always with the parent's bearer token and the token's family: booking checks both again and
answers 404 for anything outside that family. Bodies are the contract's models
(`marelle_contracts.http.booking`); an answer of another shape is an outage, not a crash.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from fastapi import Request
from pydantic import BaseModel, ValidationError

from marelle_contracts.http.booking import (
    BookingTicketRequest,
    CalendarFeed,
    CalendarMonth,
    GroupAssignmentIn,
    ReservationChangesIn,
    ReservationResult,
    ReservationResults,
    ShuttleBooking,
    ShuttleBookingIn,
    ShuttleBookings,
    ShuttleLine,
    ShuttleLines,
    ShuttleResult,
    ShuttleResults,
    TypicalWeekIn,
    WaitingDay,
    WaitingDays,
)

from marelle_gateway.upstream import ServiceClient, UpstreamUnavailable, family_path, problem_of

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)

BOOKING_DOWN = ("Le service des réservations est momentanément indisponible. "
                "Réessayez dans quelques minutes.")
ICS = "text/calendar"
# A subscription's secret, as booking makes them (and nothing else reaches booking).
FEED_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def registration_path(family_id: str, registration_id: str, *parts: str) -> str:
    return family_path(family_id, "registrations", registration_id, *parts)


def child_ics_path(family_id: str, child_id: str) -> str:
    return family_path(family_id, "children", child_id, "reservations.ics")


def feed_path(token: str) -> str:
    return f"/calendar-feeds/{token}.ics"


def public_feed_url(request: Request, booking_url: str) -> str | None:
    """booking's `/calendar-feeds/{token}.ics` as the portal's own public address
    (`/calendrier/{token}.ics`): booking itself is never exposed to the Internet."""
    path = urlsplit(booking_url).path
    match = re.search(r"/calendar-feeds/([^/]+)\.ics$", path)
    if not match or not FEED_TOKEN.match(match[1]):
        return None
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/calendrier/{match[1]}.ics"


class BookingClient(ServiceClient):
    name = "booking"
    down = BOOKING_DOWN

    def _parse(self, model: type[Model], body: Any) -> Model:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            log.warning("unexpected %s from booking: %s", model.__name__, exc.error_count())
            raise UpstreamUnavailable(self.down) from exc

    async def calendar(self, family_id: str, registration_id: str, token: str,
                       month: str | None = None) -> CalendarMonth:
        body = await self.fetch("GET", registration_path(family_id, registration_id, "calendar"),
                                token=token, params={"month": month} if month else None)
        return self._parse(CalendarMonth, body)

    async def _results(self, family_id: str, registration_id: str, route: str, token: str,
                       body: BaseModel) -> list[ReservationResult]:
        answer = await self.fetch("POST", registration_path(family_id, registration_id, route),
                                  ok=(200, 201), token=token, json=body.model_dump(mode="json"))
        return self._parse(ReservationResults, answer).results

    async def change(self, family_id: str, registration_id: str, token: str,
                     changes: ReservationChangesIn) -> list[ReservationResult]:
        return await self._results(family_id, registration_id, "reservations", token, changes)

    async def typical_week(self, family_id: str, registration_id: str, token: str,
                           week: TypicalWeekIn) -> list[ReservationResult]:
        return await self._results(family_id, registration_id, "typical-week", token, week)

    async def assign_groups(self, family_id: str, registration_id: str, token: str,
                            assignment: GroupAssignmentIn) -> list[ReservationResult]:
        return await self._results(family_id, registration_id, "group-assignments", token,
                                   assignment)

    async def waiting_days(self, family_id: str, token: str) -> list[WaitingDay]:
        body = await self.fetch("GET", family_path(family_id, "waiting-days"), token=token)
        return self._parse(WaitingDays, body).items

    async def shuttle_lines(self, family_id: str, registration_id: str,
                            token: str) -> list[ShuttleLine]:
        body = await self.fetch("GET", registration_path(family_id, registration_id,
                                                         "shuttle-lines"), token=token)
        return self._parse(ShuttleLines, body).items

    async def shuttles(self, family_id: str, registration_id: str,
                       token: str) -> list[ShuttleBooking]:
        body = await self.fetch("GET", registration_path(family_id, registration_id, "shuttles"),
                                token=token)
        return self._parse(ShuttleBookings, body).items

    async def book_shuttles(self, family_id: str, registration_id: str, token: str,
                            booking: ShuttleBookingIn) -> list[ShuttleResult]:
        body = await self.fetch("POST", registration_path(family_id, registration_id, "shuttles"),
                                ok=(200, 201), token=token, json=booking.model_dump(mode="json"))
        return self._parse(ShuttleResults, body).results

    async def new_feed(self, family_id: str, child_id: str, token: str) -> CalendarFeed:
        body = await self.fetch("POST", family_path(family_id, "children", child_id,
                                                    "calendar-feed"), ok=(200, 201), token=token)
        return self._parse(CalendarFeed, body)

    # --- the opening queue (docs/opening-rush.md): raw answers, relayed as they are (202 new
    # ticket, 200 the same key again, booking's problem+json) ----------------------------------

    async def submit_ticket(self, family_id: str, token: str, key: str,
                            body: BookingTicketRequest) -> httpx.Response:
        return await self.send("POST", family_path(family_id, "tickets"), token=token,
                               json=body.model_dump(mode="json"),
                               headers={"Idempotency-Key": key}, submission=True)

    async def ticket(self, family_id: str, ticket_id: str, token: str) -> httpx.Response:
        return await self.send("GET", family_path(family_id, "tickets", ticket_id), token=token)

    async def open_calendar(self, path: str, token: str | None) -> httpx.Response:
        """An iCalendar answer, body not read yet (the caller streams it, then closes it).

        A 200 that is not `text/calendar` is an outage: never relay an unexpected body."""
        response = await self.send("GET", path, token=token, stream=True)
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code == 200 and media_type == ICS:
            return response
        await response.aread()
        await response.aclose()
        if 400 <= response.status_code < 500:
            raise problem_of(response)
        log.warning("booking answered %s (%s) for a calendar", response.status_code,
                    media_type or "no type")
        raise UpstreamUnavailable(self.down)
