"""What the booking use cases share: a period's calendar (rules, units, deadlines), a family's
validated registration, the period's groups (from the catalogue copy)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import select

from marelle_chassis.domain_errors import Conflict, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_booking.db import calendar, child_copy, period_copy, registration_copy
from marelle_booking.domain.calendar import CalendarRules, Week, booking_weeks
from marelle_booking.domain.rules import Deadline

PERIOD_UNKNOWN = "Cette période est inconnue du service de réservation."
NO_CALENDAR = "Le calendrier de réservation de cette période n'est pas encore ouvert."
REGISTRATION_UNKNOWN = "Cette inscription est introuvable."
NOT_VALIDATED = ("Cette inscription n'est pas validée : les réservations ne sont possibles que sur "
                 "une inscription validée.")


@dataclass
class Calendar:
    period_id: uuid.UUID
    rules: CalendarRules
    booking: Deadline
    cancellation: Deadline
    horizon_days: int | None
    families_may_modify: bool
    week_only: bool
    memo: str
    units: list[dict[str, Any]]
    version: int
    bookings_open_at: datetime | None = None
    row: Any = None
    _opening: list[date] | None = field(default=None, repr=False)
    _weeks: list[Week] | None = field(default=None, repr=False)

    # Computed once per calendar (the units are not changed after loading): a batch of
    # decisions asks them for every day of every ticket.
    @cached_property
    def unit_codes(self) -> list[str]:
        return [u["code"] for u in self.units]

    @cached_property
    def _units_by_code(self) -> dict[str, dict[str, Any]]:
        units: dict[str, dict[str, Any]] = {}
        for u in self.units:
            units.setdefault(u["code"], u)
        return units

    def unit(self, code: str) -> dict[str, Any] | None:
        return self._units_by_code.get(code)

    def label(self, code: str) -> str:
        u = self.unit(code)
        return u["label"] if u else code

    @cached_property
    def implies(self) -> dict[str, list[str]]:
        return {u["code"]: list(u.get("implies") or []) for u in self.units}

    @property
    def opening_days(self) -> list[date]:
        if self._opening is None:
            self._opening = self.rules.opening_days()
        return self._opening

    @property
    def weeks(self) -> list[Week]:
        if self._weeks is None:
            self._weeks = booking_weeks(self.opening_days)
        return self._weeks


def _dates(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in json.loads(text or "[]"))


def calendar_from_row(row: Any, start: date, end: date) -> Calendar:
    rules = CalendarRules(
        start=start, end=end, weekdays=frozenset(json.loads(row.weekdays)),
        added=_dates(row.added_dates), removed=_dates(row.removed_dates),
        skip_public_holidays=row.skip_public_holidays,
        skip_school_holidays=row.skip_school_holidays, school_zone=row.school_zone)
    return Calendar(
        period_id=row.period_id, rules=rules,
        booking=Deadline(row.booking_deadline_days, row.booking_deadline_working,
                         row.booking_cutoff),
        cancellation=Deadline(row.cancellation_deadline_days, row.cancellation_deadline_working,
                              row.cancellation_cutoff),
        horizon_days=row.horizon_days, families_may_modify=row.families_may_modify,
        week_only=row.week_only, memo=row.memo, units=json.loads(row.units),
        version=row.version, bookings_open_at=row.bookings_open_at, row=row)


async def period_row(uow: UnitOfWork, period_id: uuid.UUID) -> Any:
    row = (await uow.session.execute(select(period_copy).where(
        period_copy.c.period_id == period_id))).first()
    if row is None:
        raise NotFound(PERIOD_UNKNOWN)
    return row


def groups_of(period: Any) -> list[dict[str, Any]]:
    return [{"group_id": uuid.UUID(str(g["group_id"])), "label": g["label"]}
            for g in json.loads(period.groups or "[]")]


async def load_calendar(uow: UnitOfWork, period_id: uuid.UUID, start: date | None = None,
                        end: date | None = None) -> Calendar:
    """The period's calendar (its dates from the period copy unless given)."""
    row = (await uow.session.execute(select(calendar).where(
        calendar.c.period_id == period_id))).first()
    if row is None:
        raise Conflict(NO_CALENDAR)
    if start is None or end is None:
        p = await period_row(uow, period_id)
        start, end = p.start_date, p.end_date
    return calendar_from_row(row, start, end)


def registration_query() -> Any:
    return (select(registration_copy, child_copy.c.first_name.label("child_first_name"),
                   child_copy.c.last_name.label("child_last_name"))
            .outerjoin(child_copy, child_copy.c.child_id == registration_copy.c.child_id))


async def family_registration(uow: UnitOfWork, family_id: uuid.UUID | None,
                              registration_id: uuid.UUID, *, validated: bool = True) -> Any:
    """A registration of this family (another family's: not found); validated when asked."""
    stmt = registration_query().where(registration_copy.c.registration_id == registration_id)
    if family_id is not None:
        stmt = stmt.where(registration_copy.c.family_id == family_id)
    return checked_registration((await uow.session.execute(stmt)).first(), validated=validated)


def checked_registration(reg: Any, *, validated: bool = True) -> Any:
    """The registration read (None: not this family's), validated when asked."""
    if reg is None:
        raise NotFound(REGISTRATION_UNKNOWN)
    if validated and reg.status != "validee":
        raise Conflict(NOT_VALIDATED)
    return reg


def first_name(reg: Any) -> str:
    return getattr(reg, "child_first_name", None) or "l'enfant"
