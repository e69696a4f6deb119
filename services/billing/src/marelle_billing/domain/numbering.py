"""Invoice and credit-note numbers: prefix + YY + MM + a 6-digit sequence per régie, prefix and
month (F2610000001: the first invoice of October 2026). Pure."""

from __future__ import annotations


def yymm(month: str) -> str:
    """"2026-10" → "2610"."""
    year, mon = month.split("-")
    return f"{year[2:]}{mon}"


def invoice_number(prefix: str, month: str, sequence: int) -> str:
    if not 1 <= sequence <= 999_999:
        raise ValueError("sequence out of range")
    return f"{prefix}{yymm(month)}{sequence:06d}"
