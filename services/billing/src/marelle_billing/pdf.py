"""PDF documents (invoice, receipt, fiscal attestation): Jinja2 templates rendered by WeasyPrint
in a worker thread (never on the event loop, never inside a transaction)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape

from marelle_chassis.clock import PARIS
from marelle_billing.domain.money import format_eur

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]))
_env.filters["eur"] = format_eur
_env.filters["date_fr"] = lambda d: format_date(d, "dd/MM/yyyy", locale="fr_FR") if d else ""
_env.filters["long_date_fr"] = lambda d: format_date(d, "d MMMM yyyy", locale="fr_FR") if d else ""
_env.filters["datetime_fr"] = (
    lambda d: format_datetime(d.astimezone(PARIS), "dd/MM/yyyy HH:mm", locale="fr_FR") if d else "")


def _render(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is made

    return HTML(string=_env.get_template(template).render(**context)).write_pdf()


async def render_pdf(template: str, **context: Any) -> bytes:
    return await asyncio.to_thread(_render, template, context)


__all__ = ["render_pdf", "date", "datetime"]
