"""What every endpoint needs: the runtime, the caller, and the caller's own family."""

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
from marelle_chassis.uow import UnitOfWork
from marelle_identity.usecases.common import family_not_found

current_principal = principal_dependency(verifier_from_app)
Staff = Annotated[Principal, Depends(require_staff(current_principal))]
Administrator = Annotated[Principal, Depends(require_staff(current_principal, ["administrator"]))]
Parent = Annotated[Principal, Depends(require_parent(current_principal))]
Caller = Annotated[Principal, Depends(current_principal)]


def uow(request: Request) -> UnitOfWork:
    return request.app.state.uow_factory()


def uow_factory(request: Request) -> Any:
    return request.app.state.uow_factory


def client_address(request: Request) -> str | None:
    """The end user's address as the gateway saw it (only gateways call identity)."""
    forwarded = request.headers.get("x-client-ip")
    return forwarded or (request.client.host if request.client else None)


def own_family(family_id: uuid.UUID, parent: Parent) -> uuid.UUID:
    """A parent only ever reaches their own household; another id is simply not found."""
    if parent.family_id != family_id:
        raise family_not_found()
    return family_id


OwnFamily = Annotated[uuid.UUID, Depends(own_family)]
UoW = Annotated[UnitOfWork, Depends(uow)]
