"""A child's bookings as an iCalendar (RFC 5545) file, built with `icalendar`, and the private
subscription URL a phone calendar follows.

One all-day VEVENT per booked day, its UID stable per child and day (a calendar that follows the
feed updates the event, and drops it when the day is cancelled). The subscription's secret is only
ever stored as its SHA-256: one feed per child, a new one replaces (revokes) the previous one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_booking.db import (
    calendar,
    calendar_feed,
    child_copy,
    registration_copy,
    reservation,
    shuttle_booking,
    shuttle_line,
    shuttle_stop,
)
from marelle_booking.usecases.shuttles import DIRECTION_WORD, format_time, stop_time

BOOKED = "reservee"
UNKNOWN_CHILD = "Cet enfant est introuvable."
UNKNOWN_FEED = "Ce lien d'abonnement n'existe pas ou a été remplacé par un nouveau lien."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _label(text: str) -> str:
    """« Accueil matin » → « accueil matin » inside a sentence (acronyms kept: « ALSH »)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


async def _child(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID) -> Any:
    child = (await uow.session.execute(select(child_copy).where(
        child_copy.c.child_id == child_id, child_copy.c.family_id == family_id))).first()
    if child is None:
        raise NotFound(UNKNOWN_CHILD)
    return child


async def _ics(uow: UnitOfWork, child: Any, at: datetime) -> bytes:
    """Four queries, whatever the number of days."""
    s = uow.session
    rows = (await s.execute(
        select(reservation.c.day, reservation.c.unit, reservation.c.period_id,
               registration_copy.c.facility_name, registration_copy.c.activity_name,
               registration_copy.c.period_label, registration_copy.c.group_label)
        .select_from(reservation)
        .outerjoin(registration_copy,
                   registration_copy.c.registration_id == reservation.c.registration_id)
        .where(reservation.c.child_id == child.child_id, reservation.c.status == BOOKED)
        .order_by(reservation.c.day))).all()
    periods = {r.period_id for r in rows}
    units: dict[uuid.UUID, dict[str, tuple[int, str]]] = {}
    if periods:
        for c in (await s.execute(select(calendar.c.period_id, calendar.c.units).where(
                calendar.c.period_id.in_(periods)))).all():
            units[c.period_id] = {u["code"]: (i, u.get("label") or u["code"])
                                  for i, u in enumerate(json.loads(c.units or "[]"))}
    shuttles: dict[Any, list[str]] = defaultdict(list)
    for b in (await s.execute(
            select(shuttle_booking.c.day, shuttle_booking.c.direction,
                   shuttle_line.c.name.label("line_name"), shuttle_stop.c.name.label("stop_name"),
                   shuttle_stop.c.morning_time, shuttle_stop.c.evening_time)
            .join(shuttle_line, shuttle_line.c.id == shuttle_booking.c.line_id)
            .join(shuttle_stop, shuttle_stop.c.id == shuttle_booking.c.stop_id)
            .where(shuttle_booking.c.child_id == child.child_id,
                   shuttle_booking.c.status == BOOKED)
            .order_by(shuttle_booking.c.day, shuttle_booking.c.direction))).all():
        shuttles[b.day].append(f"{b.line_name} — {b.stop_name} ({DIRECTION_WORD[b.direction]} "
                               f"{format_time(stop_time(b, b.direction))})")

    days: dict[Any, list[Any]] = defaultdict(list)
    for r in rows:
        days[r.day].append(r)

    cal = Calendar()
    cal.add("prodid", "-//Marelle//Réservations//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Réservations de {child.first_name}")
    cal.add("x-wr-timezone", "Europe/Paris")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    for day, day_rows in days.items():
        by_facility: dict[str, list[Any]] = defaultdict(list)
        for r in day_rows:
            by_facility[r.facility_name or "Accueil"].append(r)
        parts, description = [], []
        for facility, items in by_facility.items():
            known = units.get(items[0].period_id, {})
            codes = sorted({r.unit for r in items}, key=lambda u: (known.get(u, (99, u))[0], u))
            labels = ", ".join(_label(known.get(u, (0, u))[1]) for u in codes)
            parts.append(f"{facility} — {child.first_name} ({labels})")
            first = items[0]
            if first.activity_name:
                description.append(f"{first.activity_name} - {first.period_label} "
                                   f"({first.group_label})")
        description += [f"Navette : {s}" for s in shuttles.get(day, [])]
        event = Event()
        event.add("uid", f"reservation-{child.child_id}-{day:%Y%m%d}@marelle")
        event.add("dtstamp", at)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", " + ".join(parts))
        if description:
            event.add("description", "\n".join(description))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


async def child_ics(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID,
                    at: datetime) -> tuple[bytes, str]:
    async with uow:
        child = await _child(uow, family_id, child_id)
        return await _ics(uow, child, at), child.first_name


async def new_feed(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID,
                   at: datetime) -> str:
    """A new secret for the child's subscription: one statement replaces the previous one."""
    token = secrets.token_urlsafe(32)
    async with uow:
        await _child(uow, family_id, child_id)
        dialect = uow.session.bind.dialect.name if uow.session.bind else "sqlite"
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(calendar_feed).values(
            token_hash=token_hash(token), family_id=family_id, child_id=child_id, created_at=at)
        await uow.session.execute(stmt.on_conflict_do_update(
            index_elements=[calendar_feed.c.family_id, calendar_feed.c.child_id],
            set_={"token_hash": stmt.excluded.token_hash, "created_at": stmt.excluded.created_at}))
        await uow.commit()
    return token


async def feed_ics(uow: UnitOfWork, token: str, at: datetime) -> bytes:
    """The subscription itself, without login: the secret is the token."""
    if not token or len(token) > 200:
        raise NotFound(UNKNOWN_FEED)
    async with uow:
        feed = (await uow.session.execute(select(calendar_feed).where(
            calendar_feed.c.token_hash == token_hash(token)))).first()
        if feed is None:
            raise NotFound(UNKNOWN_FEED)
        child = (await uow.session.execute(select(child_copy).where(
            child_copy.c.child_id == feed.child_id,
            child_copy.c.family_id == feed.family_id))).first()
        if child is None:
            raise NotFound(UNKNOWN_FEED)
        return await _ics(uow, child, at)
