"""Parent JSON API (`/api/v1`): thin handlers that forward to the owning service (identity,
enrolment, booking, billing).

Bearer tokens only: no cookie is read here, so no CSRF protection is needed.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from marelle_gateway.api import auth, billing, booking, family, registrations, tickets
from marelle_gateway.clients import Upstreams

router = APIRouter(prefix="/api/v1", tags=["parents"])


class ServiceHealth(BaseModel):
    status: Literal["ok", "indisponible"]
    detail: str | None = None


class AggregatedHealth(BaseModel):
    status: Literal["ok", "degrade"]
    services: dict[str, ServiceHealth]


def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


@router.get("/health", response_model=AggregatedHealth,
            summary="État des services dont dépend le portail")
async def health(request: Request) -> AggregatedHealth:
    # Always 200: this describes the others; the gateway's own probe is /health/ready.
    statuses = await _upstreams(request).statuses()
    services = {s.name: ServiceHealth(status="ok" if s.up else "indisponible", detail=s.problem)
                for s in statuses}
    return AggregatedHealth(status="ok" if all(s.up for s in statuses) else "degrade",
                            services=services)


# No household is created without an account any more (issue #11): the apps sign up with
# `/api/v1/auth/signup`, which emails a confirmation link.

# The opening queue first: routes are matched one by one, in order, and at an opening nearly
# every request is a submission (no other path overlaps these).
router.include_router(tickets.router)
router.include_router(auth.router)
router.include_router(family.router)
router.include_router(registrations.router)
router.include_router(booking.router)
router.include_router(billing.router)
