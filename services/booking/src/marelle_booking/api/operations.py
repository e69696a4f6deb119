"""Booking's HTTP endpoints (operations): shuttles, roll calls, occupancy, day lists, calendar
feeds — see API.md. Thin: each calls one use case."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response, status

from marelle_booking.api import schemas as s
from marelle_booking.clock import PARIS
from marelle_booking.api.deps import Now, OwnFamily, Staff, UoW, UoWFactory
from marelle_booking.usecases import attendance, feeds, shuttles, views

router = APIRouter(tags=["operations"])

ICS = "text/calendar; charset=utf-8"


def _line(body: s.ShuttleLineIn) -> shuttles.LineIn:
    return shuttles.LineIn(body.period_id, body.name, body.seats, [
        shuttles.StopIn(st.name, st.morning_time, st.evening_time) for st in body.stops])


# --- shuttles (staff) ---------------------------------------------------------------------------

@router.get("/staff/shuttle-lines", response_model=s.ShuttleLines, tags=["staff"])
async def staff_shuttle_lines(_: Staff, uow: UoW, period_id: uuid.UUID | None = None
                              ) -> dict[str, Any]:
    return {"items": await shuttles.staff_lines(uow, period_id)}


@router.post("/staff/shuttle-lines", status_code=status.HTTP_201_CREATED,
             response_model=s.Created, tags=["staff"])
async def create_shuttle_line(body: s.ShuttleLineIn, staff: Staff, uow: UoW) -> dict[str, Any]:
    return {"id": await shuttles.create_line(uow, staff, _line(body))}


@router.put("/staff/shuttle-lines/{line_id}", status_code=status.HTTP_204_NO_CONTENT,
            tags=["staff"])
async def update_shuttle_line(line_id: uuid.UUID, body: s.ShuttleLineIn, staff: Staff, uow: UoW,
                              now: Now) -> Response:
    await shuttles.update_line(uow, staff, line_id, _line(body), now.astimezone(PARIS).date())
    return Response(status_code=204)


# --- shuttles (parents) ---------------------------------------------------------------------------

@router.get("/families/{family_id}/registrations/{registration_id}/shuttle-lines",
            response_model=s.ShuttleLines)
async def family_shuttle_lines(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW
                               ) -> dict[str, Any]:
    return {"items": await shuttles.family_lines(uow, family_id, registration_id)}


@router.get("/families/{family_id}/registrations/{registration_id}/shuttles",
            response_model=s.ShuttleBookings)
async def family_shuttles(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW
                          ) -> dict[str, Any]:
    return {"items": await shuttles.child_bookings(uow, family_id, registration_id)}


@router.post("/families/{family_id}/registrations/{registration_id}/shuttles",
             response_model=s.ShuttleResults)
async def book_shuttles(family_id: OwnFamily, registration_id: uuid.UUID,
                        body: s.ShuttleBookingIn, new_uow: UoWFactory, now: Now
                        ) -> dict[str, Any]:
    return {"results": await shuttles.book_or_cancel(
        new_uow, family_id, registration_id, body.stop_id, list(body.directions), body.days,
        body.action, now)}


# --- roll calls (staff) ---------------------------------------------------------------------------

ROLL_CALL = "/staff/roll-calls/{period_id}/{group_id}/{day}"


@router.get(ROLL_CALL, response_model=s.RollCall, tags=["staff"])
async def get_roll_call(period_id: uuid.UUID, group_id: uuid.UUID, day: date, _: Staff,
                        uow: UoW) -> dict[str, Any]:
    return await attendance.roll_call_view(uow, period_id, group_id, day)


@router.put(ROLL_CALL, response_model=s.RollCall, tags=["staff"])
async def record_roll_call(period_id: uuid.UUID, group_id: uuid.UUID, day: date,
                           body: s.RollCallRecordsIn, staff: Staff, new_uow: UoWFactory,
                           now: Now) -> dict[str, Any]:
    await attendance.record(new_uow(), staff, period_id, group_id, day, [
        attendance.Record(r.child_id, r.status, r.reason) for r in body.records], now)
    return await attendance.roll_call_view(new_uow(), period_id, group_id, day)


@router.post(ROLL_CALL + "/lock", response_model=s.RollCall, tags=["staff"])
async def lock_roll_call(period_id: uuid.UUID, group_id: uuid.UUID, day: date, staff: Staff,
                         new_uow: UoWFactory, now: Now) -> dict[str, Any]:
    await attendance.lock(new_uow(), staff, period_id, group_id, day, now)
    return await attendance.roll_call_view(new_uow(), period_id, group_id, day)


@router.post(ROLL_CALL + "/unlock", response_model=s.RollCall, tags=["staff"])
async def unlock_roll_call(period_id: uuid.UUID, group_id: uuid.UUID, day: date,
                           body: s.ReasonIn, staff: Staff, new_uow: UoWFactory, now: Now
                           ) -> dict[str, Any]:
    await attendance.unlock(new_uow(), staff, period_id, group_id, day, body.reason, now)
    return await attendance.roll_call_view(new_uow(), period_id, group_id, day)


# --- staff views ----------------------------------------------------------------------------------

OCCUPANCY = "/staff/calendars/{period_id}/occupancy"


@router.get(OCCUPANCY, response_model=s.Occupancy, tags=["staff"])
async def occupancy(period_id: uuid.UUID, _: Staff, uow: UoW, start: date | None = None,
                    end: date | None = None) -> dict[str, Any]:
    return await views.occupancy(uow, period_id, start, end)


@router.get(OCCUPANCY + ".csv", response_class=Response, tags=["staff"],
            responses={200: {"content": {"text/csv": {}}}})
async def occupancy_csv(period_id: uuid.UUID, _: Staff, uow: UoW, start: date | None = None,
                        end: date | None = None) -> Response:
    data = await views.occupancy(uow, period_id, start, end)
    return Response(views.occupancy_csv(data), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="occupation-{data["start"]}-'
                               f'{data["end"]}.csv"'})


@router.get(OCCUPANCY + ".svg", response_class=Response, tags=["staff"],
            responses={200: {"content": {"image/svg+xml": {}}}})
async def occupancy_svg(period_id: uuid.UUID, _: Staff, uow: UoW, start: date | None = None,
                        end: date | None = None) -> Response:
    data = await views.occupancy(uow, period_id, start, end)
    return Response(await views.occupancy_svg(data), media_type="image/svg+xml")


@router.get("/staff/calendars/{period_id}/days/{day}/children", response_model=s.DayList,
            tags=["staff"])
async def day_children(period_id: uuid.UUID, day: date, _: Staff, uow: UoW) -> dict[str, Any]:
    return await views.day_list(uow, period_id, day)


# --- calendar feeds (ICS) -------------------------------------------------------------------------

@router.get("/families/{family_id}/children/{child_id}/reservations.ics",
            response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
async def child_ics(family_id: OwnFamily, child_id: uuid.UUID, uow: UoW, now: Now) -> Response:
    body, _ = await feeds.child_ics(uow, family_id, child_id, now)
    return Response(body, media_type=ICS, headers={
        "Content-Disposition": f'attachment; filename="reservations-{child_id}.ics"'})


@router.post("/families/{family_id}/children/{child_id}/calendar-feed",
             status_code=status.HTTP_201_CREATED, response_model=s.CalendarFeed)
async def new_calendar_feed(family_id: OwnFamily, child_id: uuid.UUID, uow: UoW, now: Now,
                            request: Request) -> dict[str, str]:
    token = await feeds.new_feed(uow, family_id, child_id, now)
    return {"url": f"{str(request.base_url).rstrip('/')}/calendar-feeds/{token}.ics"}


@router.get("/calendar-feeds/{token}.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}}, tags=["feeds"])
async def calendar_feed(token: str, uow: UoW, now: Now) -> Response:
    """No login: the secret in the URL is the credential."""
    body = await feeds.feed_ics(uow, token, now)
    return Response(body, media_type=ICS, headers={"Cache-Control": "private, max-age=300"})
