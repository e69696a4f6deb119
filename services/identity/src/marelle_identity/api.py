"""Identity's HTTP adapter: thin endpoints calling the use cases."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from marelle_chassis.runtime import ServiceRuntime
from marelle_identity import usecases
from marelle_identity.domain.model import Sex


class ChildIn(BaseModel):
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    birth_date: date
    sex: Sex | None = None


class ProvisionalFamilyIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str | None, Field(max_length=254)] = None
    child: ChildIn


class ProvisionalFamilyOut(BaseModel):
    family_id: uuid.UUID
    child_id: uuid.UUID


class StaffLoginIn(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.keys.jwks()


@router.post("/auth/staff/token", response_model=TokenOut, tags=["auth"])
async def staff_token(body: StaffLoginIn, request: Request) -> TokenOut:
    ttl = request.app.state.settings.access_token_ttl_seconds
    token = await usecases.staff_login(_runtime(request).uow(), request.app.state.keys,
                                       body.email, body.password, ttl)
    return TokenOut(access_token=token, expires_in=ttl)


@router.post("/provisional/families", status_code=status.HTTP_201_CREATED,
             response_model=ProvisionalFamilyOut, tags=["families"],
             summary="Skeleton: create a household with one child (replaced by sign-up)")
async def create_provisional_family(body: ProvisionalFamilyIn,
                                    request: Request) -> ProvisionalFamilyOut:
    child = usecases.NewChild(body.child.first_name, body.child.last_name, body.child.birth_date,
                              body.child.sex)
    family = await usecases.create_family(_runtime(request).uow(), body.name, body.email, [child],
                                          needs_review=True)
    return ProvisionalFamilyOut(family_id=family.id, child_id=family.children[0].id)
