"""« Mes navettes »: shuttle lines and stops (staff), seats per line × direction × day, and the
children's bookings (parents).

Seats are the same one-statement counter as the day slots: the row of `shuttle_seat` is ensured
(INSERT … ON CONFLICT DO NOTHING, with the line's seats read under a share lock of the line), then
`UPDATE … SET taken = taken + 1 WHERE … AND taken < seats`: no row updated means the shuttle is
full, whatever the rush. One active booking per child, day and direction is the unique partial
index `uq_shuttle_booking_active`. Each day × direction is its own transaction (its own result).

Lock order, everywhere: the line row (share lock for bookings, update for a change of the line),
then the seat rows, then the booking.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.copies import insert_if_missing
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.booking import ShuttleBooked, ShuttleCancelled, ShuttleDirection
from marelle_booking.clock import PARIS
from marelle_booking.db import (
    period_copy,
    registration_copy,
    reservation,
    shuttle_booking,
    shuttle_line,
    shuttle_seat,
    shuttle_stop,
)

log = logging.getLogger(__name__)

BOOKED = "reservee"
CANCELLED = "annulee"
VALIDATED = "validee"
DIRECTION_WORD = {ShuttleDirection.MORNING: "aller", ShuttleDirection.EVENING: "retour"}
DIRECTION_TIME = {ShuttleDirection.MORNING: "matin", ShuttleDirection.EVENING: "soir"}

FULL = "Plus de place dans la navette."
NO_RESERVATION = "Pas de réservation ce jour-là : réservez d'abord la journée."
TECHNICAL = ("Votre demande n'a pas pu être enregistrée à cause d'un incident technique : "
             "réessayez dans un instant.")


@dataclass(frozen=True)
class StopIn:
    name: str
    morning_time: time | None
    evening_time: time | None


@dataclass(frozen=True)
class LineIn:
    period_id: uuid.UUID
    name: str
    seats: int
    stops: list[StopIn]


def format_time(t: time | None) -> str:
    """8:05 → « 8 h 05 » (French typography)."""
    return "" if t is None else f"{t.hour} h {t.minute:02d}"


def stop_time(stop: Any, direction: ShuttleDirection | str) -> time | None:
    return stop.morning_time if ShuttleDirection(direction) is ShuttleDirection.MORNING \
        else stop.evening_time


def actor_id(principal: Principal) -> uuid.UUID:
    """The staff member's id as stored (`sub` is a UUID for Marelle's accounts)."""
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"marelle:{principal.subject}")


def _check_stops(stops: list[StopIn]) -> None:
    names = [s.name.strip().casefold() for s in stops]
    if len(set(names)) != len(names):
        raise InvalidInput("Deux arrêts d'une même ligne ne peuvent pas porter le même nom.")
    for s in stops:
        if s.morning_time is None and s.evening_time is None:
            raise InvalidInput(f"L'arrêt « {s.name} » n'a aucun horaire (ni aller, ni retour).")


# --- staff: lines and stops ---------------------------------------------------------------------

def _line_facts(line: LineIn) -> dict[str, Any]:
    return {"name": line.name.strip(), "seats": line.seats,
            "stops": [{"name": s.name.strip(), "morning_time": s.morning_time,
                       "evening_time": s.evening_time} for s in line.stops]}


async def create_line(uow: UnitOfWork, staff: Principal, line: LineIn) -> uuid.UUID:
    _check_stops(line.stops)

    async def work() -> uuid.UUID:
        async with uow:
            if await uow.session.scalar(select(period_copy.c.period_id).where(
                    period_copy.c.period_id == line.period_id)) is None:
                raise InvalidInput("Cette période est inconnue du service de réservation.")
            line_id = uuid.uuid4()
            await uow.session.execute(insert(shuttle_line).values(
                id=line_id, period_id=line.period_id, name=line.name.strip(), seats=line.seats,
                version=1))
            await uow.session.execute(insert(shuttle_stop), [
                {"id": uuid.uuid4(), "line_id": line_id, "position": i, "name": s.name.strip(),
                 "morning_time": s.morning_time, "evening_time": s.evening_time}
                for i, s in enumerate(line.stops, start=1)])
            await audit(uow, staff, "navette.ligne_creee", f"ligne:{line_id}",
                        after=_line_facts(line))
            await uow.commit()
        log.info("navette : ligne %s « %s » créée (%d places) par %s", line_id, line.name,
                 line.seats, staff.subject)
        return line_id

    return await retry_transaction(work)


async def update_line(uow: UnitOfWork, staff: Principal, line_id: uuid.UUID, line: LineIn,
                      today: date) -> None:
    """Name, seats and stops. Stops are matched by name (their ids, which bookings refer to, are
    kept); a stop, or a direction of a stop, with future bookings cannot be removed; the seats
    never go below the seats taken on any day."""
    _check_stops(line.stops)

    async def work() -> None:
        async with uow:
            s = uow.session
            # The line row first (it is what bookings share-lock): no booking runs meanwhile.
            was = (await s.execute(select(shuttle_line.c.name, shuttle_line.c.seats).where(
                shuttle_line.c.id == line_id))).first()
            row = (await s.execute(update(shuttle_line).where(shuttle_line.c.id == line_id)
                                   .values(name=line.name.strip(), seats=line.seats,
                                           version=shuttle_line.c.version + 1)
                                   .returning(shuttle_line.c.period_id))).first()
            if row is None:
                raise NotFound("Cette ligne de navette est introuvable.")
            if row.period_id != line.period_id:
                raise InvalidInput("Une ligne ne change pas de période : créez-en une autre.")
            # Seat rows locked by this UPDATE; then nobody can have more than the new seats.
            await s.execute(update(shuttle_seat).where(shuttle_seat.c.line_id == line_id,
                                                       shuttle_seat.c.day >= today)
                            .values(seats=line.seats))
            most = await s.scalar(select(func.max(shuttle_seat.c.taken)).where(
                shuttle_seat.c.line_id == line_id, shuttle_seat.c.day >= today))
            if most is not None and most > line.seats:
                raise Conflict(f"Impossible de passer à {line.seats} place"
                               f"{'s' if line.seats > 1 else ''} : {most} places sont déjà "
                               "réservées un même jour. Annulez des réservations d'abord.")
            old = {r.name.casefold(): r for r in (await s.execute(select(shuttle_stop).where(
                shuttle_stop.c.line_id == line_id))).all()}
            booked = {(r.stop_id, r.direction) for r in (await s.execute(
                select(shuttle_booking.c.stop_id, shuttle_booking.c.direction).distinct().where(
                    shuttle_booking.c.line_id == line_id, shuttle_booking.c.status == BOOKED,
                    shuttle_booking.c.day >= today))).all()}
            kept: set[uuid.UUID] = set()
            for i, stop in enumerate(line.stops, start=1):
                before = old.get(stop.name.strip().casefold())
                if before is None:
                    await s.execute(insert(shuttle_stop).values(
                        id=uuid.uuid4(), line_id=line_id, position=i, name=stop.name.strip(),
                        morning_time=stop.morning_time, evening_time=stop.evening_time))
                    continue
                kept.add(before.id)
                for direction in ShuttleDirection:
                    dropped = stop_time(stop, direction) is None
                    if dropped and (before.id, direction.value) in booked:
                        raise Conflict(f"L'arrêt « {before.name} » a des réservations "
                                       f"({DIRECTION_WORD[direction]}) : annulez-les avant de "
                                       "retirer cet horaire.")
                await s.execute(update(shuttle_stop).where(shuttle_stop.c.id == before.id).values(
                    position=i, name=stop.name.strip(), morning_time=stop.morning_time,
                    evening_time=stop.evening_time))
            for name_key, before in old.items():
                if before.id in kept:
                    continue
                if any(stop_id == before.id for stop_id, _ in booked):
                    raise Conflict(f"L'arrêt « {before.name} » a des réservations : annulez-les "
                                   "avant de le retirer de la ligne.")
                await s.execute(delete(shuttle_stop).where(shuttle_stop.c.id == before.id))
            await audit(uow, staff, "navette.ligne_modifiee", f"ligne:{line_id}",
                        before={"name": was.name, "seats": was.seats,
                                "stops": [r.name for r in sorted(old.values(),
                                                                 key=lambda r: r.position)]},
                        after=_line_facts(line))
            await uow.commit()
        log.info("navette : ligne %s modifiée (%d places) par %s", line_id, line.seats,
                 staff.subject)

    await retry_transaction(work)


async def _lines(uow: UnitOfWork, *conditions: Any) -> list[dict[str, Any]]:
    rows = (await uow.session.execute(
        select(shuttle_line, shuttle_stop.c.id.label("stop_id"),
               shuttle_stop.c.name.label("stop_name"), shuttle_stop.c.morning_time,
               shuttle_stop.c.evening_time)
        .join(shuttle_stop, shuttle_stop.c.line_id == shuttle_line.c.id)
        .where(*conditions)
        .order_by(shuttle_line.c.name, shuttle_line.c.id, shuttle_stop.c.position))).all()
    lines: dict[uuid.UUID, dict[str, Any]] = {}
    for r in rows:
        line = lines.setdefault(r.id, {"line_id": r.id, "period_id": r.period_id,
                                       "name": r.name, "seats": r.seats, "stops": []})
        line["stops"].append({"stop_id": r.stop_id, "name": r.stop_name,
                              "morning_time": r.morning_time, "evening_time": r.evening_time})
    return list(lines.values())


async def staff_lines(uow: UnitOfWork, period_id: uuid.UUID | None) -> list[dict[str, Any]]:
    async with uow:
        return await _lines(uow, *([shuttle_line.c.period_id == period_id] if period_id else []))


# --- parents ------------------------------------------------------------------------------------

async def own_registration(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID,
                           *, validated: bool = True) -> Any:
    reg = (await uow.session.execute(select(registration_copy).where(
        registration_copy.c.registration_id == registration_id,
        registration_copy.c.family_id == family_id))).first()
    if reg is None:
        raise NotFound("Cette inscription est introuvable.")
    if validated and reg.status != VALIDATED:
        raise Conflict("Cette inscription n'est pas validée : les navettes ne peuvent pas être "
                       "réservées.")
    return reg


async def family_lines(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID
                       ) -> list[dict[str, Any]]:
    async with uow:
        reg = await own_registration(uow, family_id, registration_id, validated=False)
        return await _lines(uow, shuttle_line.c.period_id == reg.period_id)


async def child_bookings(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID
                         ) -> list[dict[str, Any]]:
    async with uow:
        reg = await own_registration(uow, family_id, registration_id, validated=False)
        rows = (await uow.session.execute(
            select(shuttle_booking.c.id, shuttle_booking.c.child_id, shuttle_booking.c.direction,
                   shuttle_booking.c.day, shuttle_line.c.name.label("line_name"),
                   shuttle_stop.c.name.label("stop_name"), shuttle_stop.c.morning_time,
                   shuttle_stop.c.evening_time)
            .join(shuttle_line, shuttle_line.c.id == shuttle_booking.c.line_id)
            .join(shuttle_stop, shuttle_stop.c.id == shuttle_booking.c.stop_id)
            .where(shuttle_booking.c.registration_id == reg.registration_id,
                   shuttle_booking.c.family_id == family_id,
                   shuttle_booking.c.status == BOOKED)
            .order_by(shuttle_booking.c.day, shuttle_booking.c.direction))).all()
    return [{"shuttle_booking_id": r.id, "child_id": r.child_id, "line_name": r.line_name,
             "stop_name": r.stop_name, "direction": r.direction, "day": r.day,
             "scheduled_time": stop_time(r, r.direction)} for r in rows]


def _facts(b: Any, line_name: str, stop_name: str) -> dict[str, Any]:
    return {"shuttle_booking_id": b.id, "child_id": b.child_id, "family_id": b.family_id,
            "period_id": b.period_id, "line_id": b.line_id, "line_name": line_name,
            "stop_id": b.stop_id, "stop_name": stop_name, "direction": b.direction, "day": b.day}


async def _book_one(uow: UnitOfWork, reg: Any, stop: Any, direction: ShuttleDirection, day: date,
                    at: datetime) -> str:
    async with uow:
        s = uow.session
        if await s.scalar(select(reservation.c.id).where(
                reservation.c.registration_id == reg.registration_id,
                reservation.c.child_id == reg.child_id, reservation.c.day == day,
                reservation.c.status == BOOKED).limit(1)
                # Shared: a cancellation of that day's reservation waits for us (and then
                # cancels this shuttle too), or went first and we see it.
                .with_for_update(read=True)) is None:
            raise Conflict(NO_RESERVATION)
        if await s.scalar(select(shuttle_booking.c.id).where(
                shuttle_booking.c.child_id == reg.child_id, shuttle_booking.c.day == day,
                shuttle_booking.c.direction == direction.value,
                shuttle_booking.c.status == BOOKED)) is not None:
            raise Conflict(f"Une navette est déjà réservée ce jour-là ({DIRECTION_WORD[direction]})"
                           " : annulez-la d'abord pour changer d'arrêt.")
        # The line's seats, read under a share lock: a change of the line waits for us.
        seats = await s.scalar(select(shuttle_line.c.seats).where(
            shuttle_line.c.id == stop.line_id).with_for_update(read=True))
        if seats is None:
            raise Conflict("Cette ligne de navette n'existe plus.")
        await insert_if_missing(s, shuttle_seat, {"line_id": stop.line_id,
                                                  "direction": direction.value, "day": day,
                                                  "seats": seats, "taken": 0})
        taken = await s.execute(update(shuttle_seat).where(
            shuttle_seat.c.line_id == stop.line_id, shuttle_seat.c.direction == direction.value,
            shuttle_seat.c.day == day, shuttle_seat.c.taken < shuttle_seat.c.seats)
            .values(taken=shuttle_seat.c.taken + 1))
        if taken.rowcount != 1:
            raise Conflict(FULL)
        try:
            b = (await s.execute(insert(shuttle_booking).values(
                id=uuid.uuid4(), registration_id=reg.registration_id, child_id=reg.child_id,
                family_id=reg.family_id, period_id=reg.period_id, line_id=stop.line_id,
                stop_id=stop.id, direction=direction.value, day=day, status=BOOKED,
                created_at=at, version=1).returning(*shuttle_booking.c))).one()
            uow.publish(ShuttleBooked(**_facts(b, stop.line_name, stop.name)), version=b.version)
            await uow.commit()
        except IntegrityError:
            # The same child booked the same day and direction at the same moment.
            raise Conflict(f"Une navette est déjà réservée ce jour-là "
                           f"({DIRECTION_WORD[direction]}).") from None
    at_time = format_time(stop_time(stop, direction))
    return (f"Navette réservée : {stop.line_name} — {stop.name} "
            f"({DIRECTION_WORD[direction]} {at_time}).")


async def cancel_booking(uow: UnitOfWork, booking_filter: list[Any], at: datetime,
                         cancelled_by: str) -> list[Any]:
    """Cancel active bookings matching `booking_filter` inside the caller's open unit of work
    (compare-and-set on the status), free their seats and announce it. Also for the booking core
    when a reservation is cancelled (`cancelled_by="reservation"`)."""
    s = uow.session
    rows = (await s.execute(update(shuttle_booking)
                            .where(*booking_filter, shuttle_booking.c.status == BOOKED)
                            .values(status=CANCELLED, cancelled_at=at,
                                    version=shuttle_booking.c.version + 1)
                            .returning(*shuttle_booking.c))).all()
    if not rows:
        return []
    names = {r.id: r for r in (await s.execute(
        select(shuttle_stop.c.id, shuttle_stop.c.name, shuttle_line.c.name.label("line_name"))
        .join(shuttle_line, shuttle_line.c.id == shuttle_stop.c.line_id)
        .where(shuttle_stop.c.id.in_({r.stop_id for r in rows})))).all()}
    for b in sorted(rows, key=lambda r: (r.line_id, r.direction, r.day)):
        await s.execute(update(shuttle_seat).where(
            shuttle_seat.c.line_id == b.line_id, shuttle_seat.c.direction == b.direction,
            shuttle_seat.c.day == b.day, shuttle_seat.c.taken > 0)
            .values(taken=shuttle_seat.c.taken - 1))
        n = names.get(b.stop_id)
        uow.publish(ShuttleCancelled(**_facts(b, n.line_name if n else "", n.name if n else ""),
                                     cancelled_by=cancelled_by), version=b.version)
    return rows


async def _cancel_one(uow: UnitOfWork, reg: Any, direction: ShuttleDirection, day: date,
                      at: datetime) -> str:
    async with uow:
        rows = await cancel_booking(uow, [shuttle_booking.c.child_id == reg.child_id,
                                          shuttle_booking.c.registration_id == reg.registration_id,
                                          shuttle_booking.c.day == day,
                                          shuttle_booking.c.direction == direction.value],
                                    at, "famille")
        if not rows:
            raise Conflict("Aucune navette n'est réservée ce jour-là "
                           f"({DIRECTION_WORD[direction]}).")
        await uow.commit()
    return f"Navette annulée ({DIRECTION_WORD[direction]})."


async def book_or_cancel(uow_factory: Any, family_id: uuid.UUID, registration_id: uuid.UUID,
                         stop_id: uuid.UUID, directions: list[ShuttleDirection], days: list[date],
                         action: str, at: datetime) -> list[dict[str, Any]]:
    """One result per day × direction, each in its own transaction."""
    async with uow_factory() as uow:
        reg = await own_registration(uow, family_id, registration_id)
        stop = (await uow.session.execute(
            select(shuttle_stop, shuttle_line.c.name.label("line_name"))
            .join(shuttle_line, shuttle_line.c.id == shuttle_stop.c.line_id)
            .where(shuttle_stop.c.id == stop_id,
                   shuttle_line.c.period_id == reg.period_id))).first()
    if stop is None:
        raise NotFound("Cet arrêt n'existe sur aucune ligne de navette de cette période.")
    today = at.astimezone(PARIS).date()
    results = []
    for day in sorted(set(days)):
        for direction in dict.fromkeys(ShuttleDirection(d) for d in directions):
            result = {"day": day, "direction": direction}
            if not reg.start_date <= day <= reg.end_date:
                results.append({**result, "ok": False,
                                "detail": "Ce jour est en dehors de la période d'inscription."})
                continue
            if day < today:
                results.append({**result, "ok": False, "detail": "Ce jour est passé."})
                continue
            if action == "reserver" and stop_time(stop, direction) is None:
                results.append({**result, "ok": False, "detail": (
                    f"L'arrêt « {stop.name} » n'est pas desservi le {DIRECTION_TIME[direction]} "
                    f"({DIRECTION_WORD[direction]}).")})
                continue
            if action == "reserver":
                def work(d: date = day, dr: ShuttleDirection = direction) -> Any:
                    return _book_one(uow_factory(), reg, stop, dr, d, at)
            else:
                def work(d: date = day, dr: ShuttleDirection = direction) -> Any:
                    return _cancel_one(uow_factory(), reg, dr, d, at)
            try:
                detail = await retry_transaction(work)
                results.append({**result, "ok": True, "detail": detail})
            except DomainError as exc:
                results.append({**result, "ok": False, "detail": exc.detail})
            except SQLAlchemyError:
                log.exception("shuttle %s for registration %s on %s failed", action,
                              registration_id, day)
                results.append({**result, "ok": False, "detail": TECHNICAL})
    return results


async def day_shuttles(uow: UnitOfWork, period_id: uuid.UUID, day: date
                       ) -> dict[uuid.UUID, str]:
    """child → « Ligne 1 — Mairie (aller 8 h 05, retour 17 h 30) » for a day (one query)."""
    rows = (await uow.session.execute(
        select(shuttle_booking.c.child_id, shuttle_booking.c.direction,
               shuttle_line.c.name.label("line_name"), shuttle_stop.c.name.label("stop_name"),
               shuttle_stop.c.morning_time, shuttle_stop.c.evening_time)
        .join(shuttle_line, shuttle_line.c.id == shuttle_booking.c.line_id)
        .join(shuttle_stop, and_(shuttle_stop.c.id == shuttle_booking.c.stop_id))
        .where(shuttle_booking.c.period_id == period_id, shuttle_booking.c.day == day,
               shuttle_booking.c.status == BOOKED)
        .order_by(shuttle_booking.c.child_id, shuttle_booking.c.direction))).all()
    parts: dict[uuid.UUID, dict[str, list[str]]] = {}
    for r in rows:
        where = f"{r.line_name} — {r.stop_name}"
        parts.setdefault(r.child_id, {}).setdefault(where, []).append(
            f"{DIRECTION_WORD[ShuttleDirection(r.direction)]} "
            f"{format_time(stop_time(r, r.direction))}".strip())
    return {child: " ; ".join(f"{where} ({', '.join(times)})" for where, times in by_stop.items())
            for child, by_stop in parts.items()}
