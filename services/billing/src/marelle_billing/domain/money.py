"""Money: integer cents in, French text out (« 1 234,50 € »). Never floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency

_AMOUNT = re.compile(r"^-?\d{1,9}([.,]\d{1,2})?$")


def euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def format_eur(cents: int) -> str:
    """« 1 234,50 € » (Babel, fr_FR; its narrow no-break spaces kept)."""
    return format_currency(euros(cents), "EUR", locale="fr_FR")


def parse_euros(text: str) -> int:
    """« 40 », « 40,5 », « 1 234,50 » or « 40.00 » → cents; ValueError on anything else."""
    cleaned = text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    cleaned = cleaned.removesuffix("€")
    if not _AMOUNT.match(cleaned):
        raise ValueError(text)
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise ValueError(text) from exc
    return int((value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def share(cents: int, percent: int) -> int:
    """`percent` % of an amount, rounded half up to the cent."""
    return int((Decimal(cents) * percent / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
