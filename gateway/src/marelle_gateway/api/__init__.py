"""Parent JSON API (`/api/v1`): thin handlers that forward to the owning service (identity,
enrolment, booking, billing).

Bearer tokens only: no cookie is read here, so no CSRF protection is needed.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from marelle_contracts.http.identity import ProvisionalFamilyCreated, ProvisionalFamilyIn

from marelle_gateway.api import auth, billing, booking, family, registrations
from marelle_gateway.api.proxy import relay
from marelle_gateway.clients import Upstreams

router = APIRouter(prefix="/api/v1", tags=["parents"])


# identity's own bodies (`marelle_contracts.http.identity`): the same limits are checked here
# (a French 422 without asking identity); identity's other rules (dates in the past, e-mail
# format...) arrive as its French problem+json, passed through as is.
class SignupRequest(ProvisionalFamilyIn):
    """A provisional family: the guardian's name, an optional e-mail and a first child
    (forwarded as sent, unknown top-level fields included: identity ignores them)."""

    model_config = ConfigDict(extra="allow")


SignupCreated = ProvisionalFamilyCreated


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


@router.post("/signup", status_code=201, response_model=SignupCreated,
             summary="Créer une famille provisoire (sans compte de connexion)",
             responses={422: {"description": "Données invalides (problem+json)"},
                        503: {"description": "Service des comptes indisponible (problem+json)"}})
async def signup(body: SignupRequest, request: Request) -> Response:
    upstream = await _upstreams(request).create_provisional_family(
        body.model_dump(mode="json", exclude_unset=True))
    return relay(upstream, request)


router.include_router(auth.router)
router.include_router(family.router)
router.include_router(registrations.router)
router.include_router(booking.router)
router.include_router(billing.router)
