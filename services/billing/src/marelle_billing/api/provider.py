"""The payment provider's side: its callback (unauthenticated, verified by eopayment) and the local sandbox bank (development and tests only)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
