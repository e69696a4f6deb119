"""A staff member's own second factor (TOTP): enrol, confirm, remove.

Open to a staff token and to the restricted enrolment token an administrator gets when the city
requires a second factor they have not set up (`usecases.totp.SETUP_KIND`); to nothing else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from marelle_chassis.auth import Principal, principal_from_claims
from marelle_chassis.domain_errors import Forbidden
from marelle_identity.api import schemas as s
from marelle_identity.api.deps import UoW, verified_claims
from marelle_identity.usecases import totp

# Declared for the OpenAPI (the statuses the guard and the use cases really answer).
router = APIRouter(prefix="/auth/staff/totp", tags=["auth"], responses={
    403: {"description": "Jeton d'un autre type (famille) : refusé"},
    404: {"description": "Compte du personnel introuvable"},
    409: {"description": "État incompatible (déjà activée, rien en attente, exigée)"},
    422: {"description": "Code invalide"}})


class _Enroller:
    def __init__(self, principal: Principal, session_id: uuid.UUID | None) -> None:
        self.principal = principal
        self.session_id = session_id


async def enroller(claims: Annotated[dict[str, Any], Depends(verified_claims)]) -> _Enroller:
    principal = principal_from_claims(claims)
    if principal.kind not in ("staff", totp.SETUP_KIND):
        raise Forbidden("Cette action est réservée au personnel de la structure.")
    sid = claims.get("sid")
    return _Enroller(principal, uuid.UUID(str(sid)) if sid else None)

Enroller = Annotated[_Enroller, Depends(enroller)]


@router.get("", response_model=s.TotpStatusOut)
async def totp_status(who: Enroller, request: Request, uow: UoW) -> Any:
    return await totp.status(uow, who.principal, request.app.state.settings)


@router.post("/setup", response_model=s.TotpSetupOut)
async def totp_setup(who: Enroller, request: Request, uow: UoW) -> Any:
    """A new secret and its otpauth URI, to enter in an authenticator application; active only
    once confirmed with a code."""
    return await totp.setup(uow, who.principal, request.app.state.settings)


@router.post("/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def totp_confirm(body: s.TotpCodeIn, who: Enroller, request: Request,
                       uow: UoW) -> Response:
    await totp.confirm(uow, who.principal, request.app.state.settings, body.code, who.session_id)
    return Response(status_code=204)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def totp_remove(body: s.TotpCodeIn, who: Enroller, request: Request, uow: UoW) -> Response:
    """Removing it needs a valid code: a session alone cannot turn the second factor off."""
    await totp.remove(uow, who.principal, request.app.state.settings, body.code)
    return Response(status_code=204)
