"""Booking's HTTP endpoints (staff): see API.md."""

from fastapi import APIRouter

router = APIRouter(tags=["staff"])
