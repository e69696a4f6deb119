"""Booking rules: deadlines (days or working days, cut-off hour, Europe/Paris), horizon, implied
units, week-only booking. Pure Python; each refusal is a French sentence naming the rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from marelle_chassis.domain_errors import Conflict
from marelle_booking.domain.calendar import Week, public_holiday

PARIS = ZoneInfo("Europe/Paris")


class Refused(Conflict):
    """A change refused by a booking rule (reported per change, 409 when alone)."""


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and public_holiday(day) is None


def hour(t: time) -> str:
    """« 15 h 00 »."""
    return f"{t.hour} h {t.minute:02d}"


@dataclass(frozen=True)
class Deadline:
    """Day D may be booked (or cancelled) until D − `days` (only Monday–Friday that are not
    public holidays when `working_days`) at `cutoff`, Europe/Paris; `days` = 0: D at cutoff."""

    days: int = 1
    working_days: bool = False
    cutoff: time = time(15, 0)

    def last_day(self, day: date) -> date:
        if not self.working_days:
            return day - timedelta(days=self.days)
        counted, current = 0, day
        while counted < self.days:
            current -= timedelta(days=1)
            if is_working_day(current):
                counted += 1
        return current

    def limit(self, day: date) -> datetime:
        return datetime.combine(self.last_day(day), self.cutoff, tzinfo=PARIS)

    def allows(self, day: date, now: datetime) -> bool:
        return now <= self.limit(day)

    def describe(self) -> str:
        """« la veille à 15 h 00 », « le jour même à 9 h 00 », « 2 jours ouvrés avant à 12 h 00 »."""
        at = hour(self.cutoff)
        if self.days == 0:
            return f"le jour même à {at}"
        if self.days == 1 and not self.working_days:
            return f"la veille à {at}"
        if self.days == 1:
            return f"le jour ouvré précédent à {at}"
        kind = "jours ouvrés" if self.working_days else "jours"
        return f"{self.days} {kind} avant à {at}"

    def _until(self) -> str:
        text = self.describe()
        return f"jusqu'au {text[3:]}" if text.startswith("le ") else f"jusqu'à {text}"

    def booking_refusal(self) -> str:
        return f"Délai de réservation dépassé : réservable {self._until()}."

    def cancellation_refusal(self) -> str:
        return f"Délai d'annulation dépassé : annulable {self._until()}."


def paris_today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def within_horizon(day: date, now: datetime, horizon_days: int | None) -> bool:
    return horizon_days is None or day <= paris_today(now) + timedelta(days=horizon_days)


def horizon_refusal(horizon_days: int) -> str:
    return f"Au-delà de l'horizon de réservation ({horizon_days} jours)."


def past_refusal() -> str:
    return "Ce jour est passé."


ALREADY_BOOKED = "Cet enfant est déjà inscrit ce jour-là pour ce créneau."
NO_PLACES = "Aucune place n'est ouverte pour ce créneau."
NOT_MODIFIABLE = ("La structure ne permet pas de modifier les réservations en ligne : "
                  "contactez-la.")
NOT_BOOKED = "Aucune réservation de cet enfant ce jour-là pour ce créneau."
ALREADY_CHANGED = "Cette réservation a déjà été annulée ou modifiée."


def week_only_refusal(week: Week) -> str:
    return f"Réservations à la semaine : cochez tous les jours de la semaine {week.number}."


def implied_units(units: dict[str, list[str]], code: str) -> list[str]:
    """The unit and every unit it implies (transitively), without repeats, in a fixed order."""
    seen: list[str] = []
    stack = [code]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(reversed(units.get(current, [])))
    return seen


def missing_week_days(week: Week, covered: set[date]) -> bool:
    """Week-only rule: True when some opening day of the week is not covered."""
    return not set(week.days) <= covered


def not_open_refusal(opens_at: datetime) -> str:
    """Before the scheduled opening of bookings (the opening rush)."""
    local = opens_at.astimezone(PARIS)
    return (f"Les réservations de cette période ouvrent le {local.strftime('%d/%m/%Y')} à "
            f"{local.strftime('%H:%M')}.")
