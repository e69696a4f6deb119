"""Staff JSON API (`/api/v1`); for now the aggregated health of the services."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(prefix="/api/v1", tags=["agents"])


class ServiceHealth(BaseModel):
    status: Literal["ok", "indisponible"]
    detail: str | None = None


class AggregatedHealth(BaseModel):
    status: Literal["ok", "degrade"]
    services: dict[str, ServiceHealth]


@router.get("/health", response_model=AggregatedHealth, summary="État des services")
async def health(request: Request) -> AggregatedHealth:
    statuses = await request.app.state.services.statuses()
    return AggregatedHealth(
        status="ok" if all(s.up for s in statuses) else "degrade",
        services={s.name: ServiceHealth(status="ok" if s.up else "indisponible", detail=s.problem)
                  for s in statuses})
