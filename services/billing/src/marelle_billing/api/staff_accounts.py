"""Staff views of money: a family's account, invoices (unpaid), the import of open invoices, reports per régie and month."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
