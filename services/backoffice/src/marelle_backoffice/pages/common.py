"""Helpers shared by the page modules: flash notices after a redirect, contact-change display."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from fastapi import HTTPException, Request

from marelle_backoffice import formatting
from marelle_backoffice.i18n import Translator

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# « 08:30 », « 8h30 », « 8h », « 08 h 30 »: the ways an hour gets typed in France.
_HM = re.compile(r"^(\d{1,2})\s*[:hH]\s*(\d{2})?$|^(\d{1,2})$")


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def checked_id(value: str) -> str:
    """Ids go into identity's URLs: anything but a UUID is a 404 here, never a path to forward."""
    if not _UUID.match(value):
        raise HTTPException(404)
    return value


def flash(request: Request, allowed: tuple[str, ...]) -> str | None:
    """`?message=` after a POST-redirect-GET; only known names (never free text from the URL)."""
    name = request.query_params.get("message")
    return name if name in allowed else None


def parse_date(value: str) -> str | None:
    """A birth date typed as `AAAA-MM-JJ` (date input) or `JJ/MM/AAAA`; ISO out, None if invalid."""
    value = value.strip()
    match = _DMY.match(value)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day).isoformat()
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    """An hour typed as `HH:MM` (or `8h30`, `8h`); None if invalid."""
    match = _HM.match(value.strip())
    if not match:
        return None
    hour = int(match.group(1) or match.group(3))
    minute = int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def paris_moment(day: str, hour: time) -> datetime | None:
    """An ISO day and an hour in Paris as an aware date-time; None when that hour does not exist
    there (the spring-forward gap), rather than silently moving it."""
    naive = datetime.combine(date.fromisoformat(day), hour)
    moment = naive.replace(tzinfo=formatting.PARIS)
    if moment.astimezone(UTC).astimezone(formatting.PARIS).replace(tzinfo=None) != naive:
        return None
    return moment


def paris_parts(value: str | datetime | None) -> tuple[str, str]:
    """A date-time as the form shows it: (`JJ/MM/AAAA`, `HH:MM`) in Paris; empty when absent."""
    moment = formatting.parse_datetime(value)
    if moment is None:
        return "", ""
    local = moment.astimezone(formatting.PARIS)
    return local.strftime("%d/%m/%Y"), local.strftime("%H:%M")


class ChangeRow(NamedTuple):
    label: str
    before: str
    after: str


_PHONE_KINDS = {"mobile_phone": "change.field.mobile_phone",
                "work_phone": "change.field.work_phone"}


def _label(field: str, people: dict[str, str], t: Translator) -> tuple[str, bool]:
    """French label of a changed field, and whether its values are phone numbers."""
    if f"change.field.{field}" in t:
        return t(f"change.field.{field}"), field.endswith("phone")
    # Guardian phones: API.md does not fix the key, so find the phone kind and the person in it.
    for kind, key in _PHONE_KINDS.items():
        if kind in field:
            whose = next((name for pid, name in people.items() if pid in field), None)
            if whose:
                return t("change.field.guardian_phone_of", phone=t(key), name=whose), True
            return t("change.field.guardian_phone", phone=t(key)), True
    return field, False


def _value(value: Any, is_phone: bool, t: Translator) -> str:
    if value is None or value == "":
        return t("change.empty")
    if is_phone:
        return formatting.phone(str(value))
    if isinstance(value, str) and f"scheme.{value}" in t:
        return t(f"scheme.{value}")
    return str(value)


def change_rows(changes: dict[str, Any] | None,
                people: dict[str, str] | None = None) -> list[ChangeRow]:
    """`{field: {before, after}}` as French rows « libellé : avant → après »."""
    t = Translator()
    rows = []
    for field, change in (changes or {}).items():
        label, is_phone = _label(field, people or {}, t)
        change = change if isinstance(change, dict) else {"before": None, "after": change}
        # Identity sends its own French label and display forms (« 06 12 34 56 78 »): prefer them.
        label = change.get("label") or label
        before = change.get("before_display", change.get("before"))
        after = change.get("after_display", change.get("after"))
        rows.append(ChangeRow(label, _value(before, is_phone, t), _value(after, is_phone, t)))
    return rows


def sort_key_created(item: dict[str, Any]) -> datetime:
    moment = formatting.parse_datetime(item.get("created_at"))
    return moment or datetime.min.replace(tzinfo=UTC)
