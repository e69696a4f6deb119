"""A fast lane for the opening queue's submissions (docs/opening-rush.md, bench/rush.py).

At an opening, thousands of families submit in the same minute, and the services' profiles
(py-spy, bench/rush.py) showed FastAPI's routing and dependency machinery as a large share of
the CPU around a use case that does two reads and one statement. This ASGI middleware answers the few hot routes it is
given directly: their handler authenticates, validates the body with the route's own pydantic
model and calls the same use case. It answers only the ordinary case: a handler returns None
whenever the request is not plain (no token, a token refused, another family, an invalid body
or header) and the request goes on to FastAPI with its body replayed, so every refusal keeps
the single answer FastAPI gives (problem+json in French, OpenAPI, tests). Domain errors raised by
the use case are answered by the app's own mapping (`on_domain_error`); anything else propagates
to the app's error middleware as it would from a route.

It sits innermost among the app's middlewares: load shedding, correlation id, body limit and the
security headers apply to its answers as to any other.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis.domain_errors import DomainError
from marelle_contracts.http.queue import IdempotencyKey


@dataclass(slots=True)
class FastRequest:
    scope: Scope
    params: dict[str, str]
    body: bytes

    @property
    def app(self) -> Any:
        return self.scope["app"]

    def header(self, name: bytes) -> str | None:
        """A request header (lower-case name), decoded, or None."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    def bearer(self) -> str | None:
        scheme, _, token = (self.header(b"authorization") or "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None


Handler = Callable[[FastRequest], Awaitable[Response | None]]
DomainErrorAnswer = Callable[[Request, DomainError], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Lane:
    method: str
    path: str  # e.g. "/families/{family_id}/tickets"
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


class FastLane:
    """ASGI middleware: `lanes` answered by their handlers, everything else untouched."""

    def __init__(self, app: ASGIApp, lanes: Sequence[Lane], on_domain_error: DomainErrorAnswer,
                 max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.lanes = [(lane.method, lane.pattern(), lane.handler) for lane in lanes]
        self.on_domain_error = on_domain_error
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for method, pattern, handler in self.lanes:
                if scope["method"] == method and (match := pattern.match(scope["path"])):
                    await self._answer(handler, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, handler: Handler, params: dict[str, str], scope: Scope,
                      receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body_bytes:
                break  # FastAPI (and the body limit) answer an oversized body
        body = b"".join(chunks)
        response: Response | None = None
        if size <= self.max_body_bytes:
            try:
                response = await handler(FastRequest(scope, params, body))
            except DomainError as exc:
                response = await self.on_domain_error(Request(scope), exc)
        if response is None:
            await self.app(scope, _replay(body, more, receive), send)
        else:
            await response(scope, receive, send)


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then the rest from the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


_KEY = TypeAdapter(IdempotencyKey)
Submit = Callable[[Any, uuid.UUID, str, Any], Awaitable[tuple[Any, bool]]]
M = TypeVar("M", bound=BaseModel)


def plain_submission(request: FastRequest, body_model: type[M]) -> tuple[str, str, M] | None:
    """A queue submission's (bearer token, Idempotency-Key, body) when all three are there and
    valid by the route's own types; None otherwise (the route answers, in French)."""
    token = request.bearer()
    try:
        key = _KEY.validate_python(request.header(b"idempotency-key"))
        body = body_model.model_validate_json(request.body)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
    return (token, key, body) if token else None


def family_submission(body_model: type[BaseModel], answer_model: type[BaseModel],
                      submit: Submit) -> Handler:
    """The lane of a family's queue submission, `POST /families/{family_id}/...` with an
    `Idempotency-Key`, as the services' routes take it: the parent of the bearer token, their
    own family only, the key and the body validated by the route's own types; then
    `submit(app, family_id, key, body)` → (answer, created): 202 for a new ticket, 200 for the
    key's ticket already given. Anything else is the route's to answer (None)."""
    answer = TypeAdapter(answer_model)

    async def handler(request: FastRequest) -> Response | None:
        submission = plain_submission(request, body_model)
        if submission is None:
            return None
        token, key, body = submission
        try:
            family_id = uuid.UUID(request.params["family_id"])
            principal = await request.app.state.token_verifier.verify(token)
        except (ValueError, DomainError):
            return None
        if principal.kind != "parent" or principal.family_id != family_id:
            return None
        result, created = await submit(request.app, family_id, key, body)
        return Response(answer.dump_json(answer.validate_python(result)),
                        status_code=202 if created else 200, media_type="application/json")

    return handler
