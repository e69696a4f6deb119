"""« Mon compte » of a family: summary, invoices and their PDFs, detail per registration, fiscal attestations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
