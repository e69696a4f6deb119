"""« Mes inscriptions »: the list, a new request, each registration's sub-menu, attestations."""

from __future__ import annotations

from fastapi import APIRouter

from marelle_gateway.pages.registrations import (
    attestations,
    booking,
    booking_queue,
    detail,
    listing,
    new,
    openings,
)
from marelle_gateway.pages.registrations.common import REGISTRATION_MENU
from marelle_gateway.pages.registrations.listing import SECTIONS, STATES

__all__ = ["REGISTRATION_MENU", "SECTIONS", "STATES", "router"]

router = APIRouter()
# `nouvelle`, `ouvertures`, `tickets/…`, `tickets-reservations/…` and `attestations/…` before
# `{registration_id}`, which would take them otherwise.
for _module in (new, openings, booking_queue, attestations, listing, detail, booking):
    router.include_router(_module.router)
# The phone's calendar subscription: no login.
router.include_router(booking.public_router)
