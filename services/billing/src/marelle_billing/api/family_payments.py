"""« Payer cette facture »: online payments started by a parent, the return from the provider, receipts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
