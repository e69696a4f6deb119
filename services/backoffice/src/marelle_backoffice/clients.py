"""Calls to the services over one shared `httpx.AsyncClient`, and what their failures mean here."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from marelle_chassis.errors import french_field_errors
from marelle_chassis.http import outgoing_headers

log = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """A service did not answer, or answered 5xx: nothing the staff member can fix by retyping."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class SessionRejected(Exception):
    """A service answered 401 to the staff member's token (expired in between, or key rotated)."""


class UpstreamProblem(Exception):
    """A 4xx answer (problem+json): French `detail`; 422 field `errors` (`champ`, `message`);
    `reason`: the problem's machine-readable `raison` when it has one (e.g. identity's
    `mot_de_passe_a_changer`); `extra`: its other members, as sent (e.g. identity's
    `jeton_configuration` with `totp_a_configurer`)."""

    def __init__(self, status: int, detail: str | None, errors: list[dict[str, str]] | None = None,
                 retry_after: str | None = None, reason: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.retry_after = retry_after
        self.reason = reason
        self.extra = extra or {}

    @classmethod
    def from_response(cls, response: httpx.Response) -> "UpstreamProblem":
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        errors = [e for e in body.get("erreurs") or [] if isinstance(e, dict)]
        reason = body.get("raison")
        extra = {k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS}
        return cls(response.status_code, body.get("detail"),
                   [{"champ": str(e.get("champ", "")), "message": str(e.get("message", ""))}
                    for e in errors],
                   response.headers.get("retry-after"),
                   reason if isinstance(reason, str) else None, extra)


# The members `UpstreamProblem` reads itself; any other is kept in `extra`.
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "erreurs", "raison"})


def request_body(service: str, model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` as the service's request body (`marelle_contracts.http`), checked before sending.

    What the service would refuse is refused here the same way: a 422 `UpstreamProblem` with the
    service's French field errors, without a round trip.
    """
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        errors = french_field_errors(list(exc.errors()))
        detail = "Certaines informations sont invalides : " + "; ".join(
            f"{e['champ']} : {e['message']}" for e in errors)
        raise UpstreamProblem(422, detail, errors) from None
    return body.model_dump(mode="json", exclude_unset=True)


def checked_answer(service: str, model: type[BaseModel], body: Any) -> Any:
    """The service's answer, checked against its response model (`marelle_contracts.http`).

    An answer of another shape is an outage (the pages never guess), not a crash. The body is
    returned as sent: the pages read the fields they know.
    """
    try:
        model.model_validate(body)
    except ValidationError as exc:
        log.warning("unexpected %s from %s: %s", model.__name__, service, exc.error_count())
        raise ServiceUnavailable(service) from None
    return body


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    up: bool
    problem: str | None = None


class Services:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str],
                 proxy_secret: str = "") -> None:
        self.client = client
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.proxy_secret = proxy_secret

    async def call(self, service: str, method: str, path: str, *, token: str | None = None,
                   client_ip: str | None = None, json: Any = None,
                   params: dict[str, Any] | None = None) -> httpx.Response:
        """One call; returns only 2xx answers, raises the exceptions above otherwise."""
        headers = outgoing_headers()
        if token:
            headers["authorization"] = f"Bearer {token}"
        if client_ip:
            # The staff member's address (login throttling), believed by identity only with
            # the shared proxy secret: anyone else could send this header.
            headers["x-marelle-client-address"] = client_ip
            if self.proxy_secret:
                headers["x-marelle-proxy-secret"] = self.proxy_secret
        try:
            response = await self.client.request(method, self.urls[service] + path,
                                                 headers=headers, json=json, params=params)
        except httpx.HTTPError:
            raise ServiceUnavailable(service) from None
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        if response.status_code == 401 and token:
            raise SessionRejected()
        if response.status_code >= 400:
            raise UpstreamProblem.from_response(response)
        return response

    async def check_live(self, service: str) -> None:
        """Raise unless the service's `/health/live` answers 200 (a readiness check)."""
        response = await self.client.get(self.urls[service] + "/health/live",
                                         headers=outgoing_headers())
        response.raise_for_status()

    async def status(self, service: str) -> ServiceStatus:
        try:
            await self.check_live(service)
        except httpx.HTTPStatusError as exc:
            return ServiceStatus(service, self.urls[service], False,
                                 f"HTTP {exc.response.status_code}")
        except httpx.HTTPError as exc:
            return ServiceStatus(service, self.urls[service], False, type(exc).__name__)
        return ServiceStatus(service, self.urls[service], True)

    async def statuses(self) -> list[ServiceStatus]:
        return list(await asyncio.gather(*(self.status(name) for name in self.urls)))
