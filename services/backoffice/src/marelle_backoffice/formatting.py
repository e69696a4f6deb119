"""French display of the values the services send (ISO dates, UTC date-times, E.164 phones)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_FRENCH_E164 = re.compile(r"^\+33([1-9]\d{8})$")


def parse_datetime(value: str | datetime | None) -> datetime | None:
    """An ISO date-time (aware; naive taken as UTC), or None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    # Identity sends UTC with an offset; a naive value is taken as UTC rather than guessed local.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def french_date(value: str | date | None) -> str:
    """`2018-03-12` → `12/03/2018`; a date-time is shown as its day in Paris."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        moment = parse_datetime(value)
        return moment.astimezone(PARIS).strftime("%d/%m/%Y") if moment else str(value)
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return day.strftime("%d/%m/%Y")


def french_datetime(value: str | datetime | None) -> str:
    """A UTC date-time shown in Europe/Paris: `12/03/2025 14:05`."""
    moment = parse_datetime(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def iso_datetime(value: str | datetime | None) -> str:
    """Machine-readable value for `<time datetime>`."""
    moment = parse_datetime(value)
    return moment.isoformat() if moment else ""


def age(value: int | None) -> str:
    if value is None:
        return ""
    if value < 1:
        return "moins d'un an"
    return f"{value} an" if value == 1 else f"{value} ans"


def phone(value: str | None) -> str:
    """French E.164 numbers in the national format (`06 12 34 56 78`); others unchanged.

    No-break spaces: a number never wraps in the middle of a narrow table cell."""
    if not value:
        return ""
    match = _FRENCH_E164.match(value)
    if not match:
        return value
    digits = "0" + match.group(1)
    return "\u00a0".join(digits[i:i + 2] for i in range(0, 10, 2))
