"""QF brackets, régies, tariffs and families' financial profiles (staff)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
