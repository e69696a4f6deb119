"""`GET /families/{family_id}/requests`: each service's part of « Mon tableau de bord »."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends

from marelle_chassis.auth import Principal, principal_dependency, require_parent, verifier_from_app
from marelle_chassis.domain_errors import NotFound
from marelle_contracts.dashboard import RequestItems

Provider = Callable[[uuid.UUID], Awaitable[list[dict[str, Any]]]]


async def nothing_yet(family_id: uuid.UUID) -> list[dict[str, Any]]:
    """For a service whose family requests do not exist yet: an empty, not a missing, history."""
    return []


def requests_router(provider: Provider) -> APIRouter:
    router = APIRouter(tags=["dashboard"])
    parent = require_parent(principal_dependency(verifier_from_app))

    @router.get("/families/{family_id}/requests", response_model=RequestItems)
    async def family_requests(family_id: uuid.UUID,
                              who: Principal = Depends(parent)) -> dict[str, Any]:
        if who.family_id != family_id:
            raise NotFound("Ce foyer est introuvable.")
        return {"items": await provider(family_id)}

    return router
