"""FastAPI dependencies every service's HTTP adapter needs: the caller (staff or parent), the
caller's own family, and a unit of work from the service's runtime."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from marelle_chassis.auth import (
    Principal,
    principal_dependency,
    require_parent,
    require_staff,
    verifier_from_app,
)
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork

current_principal = principal_dependency(verifier_from_app)
Staff = Annotated[Principal, Depends(require_staff(current_principal))]
Parent = Annotated[Principal, Depends(require_parent(current_principal))]


# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a
# thread hop per request for a function that only reads an attribute.
async def own_family(family_id: uuid.UUID, parent: Parent) -> uuid.UUID:
    """A parent only ever reaches their own household; another id is simply not found."""
    if parent.family_id != family_id:
        raise NotFound("Ce foyer est introuvable.")
    return family_id


async def uow(request: Request) -> UnitOfWork:
    return request.app.state.runtime.uow()


def uow_factory(request: Request) -> Any:
    return request.app.state.runtime.uow


async def _uow_factory(request: Request) -> Any:
    return uow_factory(request)


OwnFamily = Annotated[uuid.UUID, Depends(own_family)]
UoW = Annotated[UnitOfWork, Depends(uow)]
UoWFactory = Annotated[Any, Depends(_uow_factory)]
