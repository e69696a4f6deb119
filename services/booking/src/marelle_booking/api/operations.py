"""Booking's HTTP endpoints (operations): see API.md."""

from fastapi import APIRouter

router = APIRouter(tags=["operations"])
