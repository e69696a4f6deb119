"""What the page handlers share: identity calls on behalf of the logged-in parent."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from marelle_gateway.identity import (
    IDENTITY_DOWN,
    UpstreamProblem,
    UpstreamUnavailable,
    family_path,
)
from marelle_gateway.models import Family
from marelle_gateway.session import LoginRequired, Session, client_ip, end_session, identity_of

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], body: Any) -> Model:
    """identity's body read as `model`; a body of another shape is an outage, not a crash."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        log.warning("unexpected %s from identity: %s", model.__name__, exc.error_count())
        raise UpstreamUnavailable(IDENTITY_DOWN) from exc


async def call_identity(request: Request, session: Session, method: str, path: str, *,
                        ok: tuple[int, ...] = (200,), json: Any = None) -> Any:
    """identity's JSON body; 4xx other than 401/403/404 raise `UpstreamProblem` for the form."""
    try:
        return await identity_of(request).fetch(method, path, ok=ok, json=json,
                                                token=session.access_token,
                                                client_ip=client_ip(request))
    except UpstreamProblem as problem:
        if problem.status == 401:
            # Revoked or expired between our check and identity's: log in again.
            end_session(request)
            raise LoginRequired(request) from None
        if problem.status in (403, 404):
            # identity answers 404 for anything outside the token's family.
            raise HTTPException(problem.status) from None
        raise


async def load_family(request: Request, session: Session) -> Family:
    body = await call_identity(request, session, "GET", family_path(session.family_id))
    return parse(Family, body)
