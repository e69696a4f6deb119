"""Booking's HTTP endpoints (family): see API.md."""

from fastapi import APIRouter

router = APIRouter(tags=["family"])
