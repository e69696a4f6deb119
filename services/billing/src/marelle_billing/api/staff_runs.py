"""Invoicing runs: start, follow, review, recompute, finalise, discard (staff)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
