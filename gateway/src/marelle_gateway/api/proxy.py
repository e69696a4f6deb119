"""What the JSON API's thin proxies share: the bearer's session, relaying a service's answer."""

from __future__ import annotations

from typing import TypeVar

import httpx
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from marelle_chassis.auth import bearer_token
from marelle_chassis.domain_errors import DomainError
from marelle_chassis.errors import Unauthorized, problem
from marelle_chassis.fastlane import FastRequest, plain_submission

from marelle_gateway.session import Session, session_from_token

_PASSED_HEADERS = ("location", "retry-after")
M = TypeVar("M", bound=BaseModel)

# The config of the JSON API's bodies: a service's request body (its fields and limits, from
# `marelle_contracts.http`) whose unknown top-level fields (a `family_id`, say) are dropped,
# never forwarded.
DROP_UNKNOWN = ConfigDict(extra="ignore")
_JSON_TYPES = ("application/json", "application/problem+json")


class BearerRequired(Unauthorized):
    """401 with the challenge RFC 6750 asks for."""

    headers = {"WWW-Authenticate": 'Bearer realm="marelle"'}


async def api_parent(request: Request) -> Session:
    """Dependency: the parent of the `Authorization: Bearer` token (never a cookie)."""
    try:
        return await session_from_token(request, bearer_token(request))
    except Unauthorized as exc:
        raise BearerRequired(exc.detail) from None


async def parent_submission(fast: FastRequest, model: type[M]
                            ) -> tuple[M, Request, str, Session] | None:
    """A queue submission's (body, request, Idempotency-Key, session) as its route receives
    them, checked the same way, or None when anything is not plain (no or a refused token, an
    invalid key or body): the route then answers it with its usual French problem+json."""
    submission = plain_submission(fast, model)
    if submission is None:
        return None
    token, key, body = submission
    request = Request(fast.scope)
    try:
        session = await session_from_token(request, token)
    except DomainError:
        return None
    return body, request, key, session


# How the parent is told that a service answered something unreadable.
UNEXPECTED = {
    "identity": "Le service des comptes a répondu de façon inattendue. Réessayez plus tard.",
    "enrolment": "Le service des inscriptions a répondu de façon inattendue. Réessayez plus tard.",
    "booking": "Le service des réservations a répondu de façon inattendue. Réessayez plus tard.",
    "billing": "Le service de facturation a répondu de façon inattendue. Réessayez plus tard.",
}


def relay(upstream: httpx.Response, request: Request, service: str = "identity") -> Response:
    """The service's status, body (JSON or problem+json) and useful headers, as they are."""
    headers = {name: upstream.headers[name] for name in _PASSED_HEADERS if name in upstream.headers}
    if not upstream.content:
        return Response(status_code=upstream.status_code, headers=headers)
    media_type = upstream.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in _JSON_TYPES:
        # Never relay an unexpected body (an HTML error page, a stack trace) to parents.
        return problem(502, "Réponse inattendue", UNEXPECTED[service],
                       code="reponse-inattendue", instance=request.url.path)
    return Response(upstream.content, status_code=upstream.status_code, media_type=media_type,
                    headers=headers)
