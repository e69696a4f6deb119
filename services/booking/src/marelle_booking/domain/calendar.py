"""Opening days and booking weeks of a period (pure Python, no framework).

Opening days: the weekdays rule, minus French public holidays (`holidays`) and the school
holidays of the zone (`vacances_scolaires_france`) when the manager says so, minus the removed
dates, plus the added dates, clipped to the period. Booking weeks: Monday–Sunday weeks holding at
least one opening day, partial where the period starts or ends mid-week, labelled as in the
guide's memo (« Sem 1 : 20 et 21 octobre 2016 », « Sem 2 : du lundi au vendredi »).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays
from babel.dates import format_date

# The guide's grid: « L M M J V S D » under the day numbers.
WEEKDAY_LETTERS = "LMMJVSD"
WEEKDAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def weekday_letter(day: date) -> str:
    return WEEKDAY_LETTERS[day.weekday()]


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> dict[date, str]:
    return dict(holidays.France(years=year, language="fr"))


def public_holiday(day: date) -> str | None:
    """The French public holiday's name on that day (« Toussaint »), else None."""
    return _public_holidays(day.year).get(day)


@lru_cache(maxsize=1)
def _school_dates() -> object:
    from vacances_scolaires_france import SchoolHolidayDates

    return SchoolHolidayDates()


def school_holiday(day: date, zone: str | None) -> str | None:
    """The school holidays' name on that day for the zone (A, B, C), else None."""
    if not zone:
        return None
    dates = _school_dates()
    try:
        info = dates.holidays_for_year_and_zone(day.year, zone).get(day)  # type: ignore[attr-defined]
    except Exception:  # years outside the data set: no school holidays known
        return None
    return info["nom_vacances"] if info else None


def day_month(day: date) -> str:
    """« 1er novembre », « 20 octobre »."""
    text = format_date(day, "d MMMM", locale="fr")
    return ("1er" + text[1:]) if day.day == 1 else text


# Cached: an opening's decisions label the same few days tens of thousands of times, and Babel
# parses its locale and pattern on every call (a quarter of a booking decision's CPU).
@lru_cache(maxsize=2048)
def long_day(day: date) -> str:
    """« mardi 20 octobre 2026 » (« 1er » for the first of the month)."""
    text = format_date(day, "EEEE d MMMM y", locale="fr")
    if day.day == 1:
        name, _, rest = text.partition(" ")
        text = f"{name} 1er{rest[1:]}"
    return text


@lru_cache(maxsize=2048)
def short_day(day: date) -> str:
    """« mercredi 8 juillet » (« 1er » for the first of the month)."""
    text = format_date(day, "EEEE d MMMM", locale="fr")
    if day.day == 1:
        name, _, rest = text.partition(" ")
        text = f"{name} 1er{rest[1:]}"
    return text


@dataclass(frozen=True)
class CalendarRules:
    start: date
    end: date
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays
    added: frozenset[date] = frozenset()
    removed: frozenset[date] = frozenset()
    skip_public_holidays: bool = True
    skip_school_holidays: bool = False
    school_zone: str | None = None

    def closed_reason(self, day: date) -> str | None:
        """None when the day is open; else why it is closed (French, shown on the grid)."""
        if day < self.start or day > self.end:
            return "Hors période"
        if day in self.added:
            return None
        if day in self.removed:
            return "Fermé"
        if self.skip_public_holidays and (name := public_holiday(day)):
            return f"Jour férié : {name}, {day_month(day)}"
        if self.skip_school_holidays and (name := school_holiday(day, self.school_zone)):
            return f"Vacances scolaires : {name}"
        if day.isoweekday() not in self.weekdays:
            return "Fermé"
        return None

    def opening_days(self) -> list[date]:
        days, day = [], self.start
        while day <= self.end:
            if self.closed_reason(day) is None:
                days.append(day)
            day += timedelta(days=1)
        return days


def closed_refusal(reason: str) -> str:
    """The refusal of a change on a closed day: « Jour fermé (jour férié : Toussaint, 1er
    novembre). »"""
    return f"Jour fermé ({reason[0].lower()}{reason[1:]})."


@dataclass(frozen=True)
class Week:
    number: int
    days: list[date] = field(default_factory=list)
    label: str = ""


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _list_days(days: list[date], with_year: bool) -> str:
    """« 20 et 21 octobre 2016 », « 31 octobre et 2 novembre », « 24, 25 et 27 octobre »."""
    parts: list[str] = []
    for i, day in enumerate(days):
        last_of_month = i == len(days) - 1 or days[i + 1].month != day.month
        parts.append(format_date(day, "d MMMM", locale="fr") if last_of_month else str(day.day))
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]
    return f"{text} {days[-1].year}" if with_year else text


def week_label(days: list[date], with_year: bool) -> str:
    """A run of three or more consecutive days is « du lundi au vendredi »; otherwise the
    dates are listed."""
    consecutive = all((b - a).days == 1 for a, b in zip(days, days[1:]))
    if len(days) >= 3 and consecutive:
        return f"du {WEEKDAY_NAMES[days[0].weekday()]} au {WEEKDAY_NAMES[days[-1].weekday()]}"
    return _list_days(days, with_year)


def booking_weeks(opening_days: list[date]) -> list[Week]:
    """Monday–Sunday weeks holding opening days, numbered from 1; the year is said once, in the
    first week's label (as in the guide's memo)."""
    by_monday: dict[date, list[date]] = {}
    for day in sorted(opening_days):
        by_monday.setdefault(_monday(day), []).append(day)
    weeks = []
    for number, days in enumerate(by_monday.values(), start=1):
        weeks.append(Week(number, days, f"Sem {number} : {week_label(days, number == 1)}"))
    return weeks


def week_of(weeks: list[Week], day: date) -> Week | None:
    monday = _monday(day)
    for week in weeks:
        if _monday(week.days[0]) == monday:
            return week
    return None
