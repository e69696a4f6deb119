"""Calling one upstream service on behalf of a parent: the shared plumbing of every client.

Two levels: `send` returns the service's answer as is (the JSON API relays it), `fetch` turns it
into a body or an exception the pages can show (`UpstreamProblem` for 4xx, `UpstreamUnavailable`
for transport errors, 5xx and unreadable bodies).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from marelle_chassis.errors import DomainError
from marelle_chassis.http import OVERLOADED, outgoing_headers
from marelle_gateway.wire import WireError, WirePool

log = logging.getLogger(__name__)


class UpstreamUnavailable(DomainError):
    status, code, title = 503, "service-indisponible", "Service momentanément indisponible"


class Overloaded(UpstreamUnavailable):
    """Too many submissions already on their way to the service: « réessayez » at once, before
    the service does any work. Past the bound they would only queue there, until the gateway
    gave up waiting while the service still took them: the family told « indisponible » for a
    ticket it holds (found again with its key, but only if it retries)."""

    code, title = "surcharge", "Service très sollicité"
    headers = {"Retry-After": "2"}


class Admission:
    """At most `limit` requests of one kind at once to a service (the opening queue's
    submissions); beyond, `Overloaded` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.refused = 0

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            self.refused += 1
            raise Overloaded(OVERLOADED)
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1


@dataclass
class UpstreamProblem(Exception):
    """A 4xx answer: the service's status, French `detail`, field errors and `Retry-After`."""

    status: int
    detail: str = ""
    # (the service's field name, its French message), in the service's order.
    errors: list[tuple[str, str]] = field(default_factory=list)
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.detail}"


def problem_of(response: httpx.Response) -> UpstreamProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    errors = [(str(e["champ"]), str(e["message"])) for e in body.get("erreurs") or []
              if isinstance(e, dict) and e.get("champ") and e.get("message")]
    retry = response.headers.get("retry-after", "").strip()
    return UpstreamProblem(response.status_code, detail if isinstance(detail, str) else "",
                           errors, int(retry) if retry.isdigit() else None)


CLIENT_ADDRESS = "x-marelle-client-address"
PROXY_SECRET = "x-marelle-proxy-secret"


def proxy_headers(client_ip: str, secret: str) -> dict[str, str]:
    """The end user's address for identity, vouched for by the proxy secret (when set)."""
    headers = {CLIENT_ADDRESS: client_ip}
    if secret:
        headers[PROXY_SECRET] = secret
    return headers


def _json_bytes(value: Any) -> bytes:
    # What httpx sends for `json=`: compact UTF-8 JSON (the services parse it the same way).
    return orjson.dumps(value)


def family_path(family_id: object, *parts: object) -> str:
    """`/families/{id}/...`; ids may be UUIDs (the contract's) or their text."""
    return "/".join((f"/families/{family_id}", *map(str, parts)))


class ServiceClient:
    """One service's base URL over the gateway's shared client; `down` is said when it fails."""

    name = "service"
    down = "Un service du portail est momentanément indisponible. Réessayez dans quelques minutes."

    def __init__(self, client: httpx.AsyncClient, base_url: str, proxy_secret: str = "",
                 submissions: int = 128, wire: bool = False) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.proxy_secret = proxy_secret
        self.submissions = Admission(submissions)
        # An opening's submissions go on connections of their own (wire.py), without a client
        # library's request and response layers: most of the gateway's CPU per submission in
        # bench/rush.py. Not in the tests' fakes (an httpx transport stands for the service).
        self.wire = WirePool(self.base_url, limit=submissions) if wire else None

    def headers(self, token: str | None, client_ip: str | None = None) -> dict[str, str]:
        headers = outgoing_headers()
        if token:
            headers["authorization"] = f"Bearer {token}"
        if client_ip:
            # Services throttle per end user, not per gateway; they believe the address only
            # with the shared proxy secret (anyone else could send this header).
            headers.update(proxy_headers(client_ip, self.proxy_secret))
        return headers

    async def send(self, method: str, path: str, *, json: Any = None, token: str | None = None,
                   client_ip: str | None = None, params: dict[str, str] | None = None,
                   stream: bool = False, headers: dict[str, str] | None = None,
                   submission: bool = False) -> httpx.Response:
        """The service's answer, whatever its status; `UpstreamUnavailable` if unreachable.

        With `stream`, the body is not read: the caller must close the response. A
        `submission` (to an opening queue) is admitted within `submissions` at once, else
        `Overloaded`.
        """
        headers = {**self.headers(token, client_ip), **(headers or {})}
        if submission:
            self.submissions.enter()
        try:
            if submission and self.wire is not None and not (params or stream):
                return await self._send_on_wire(method, path, json, headers)
            request = self.client.build_request(method, self.base_url + path, json=json,
                                                params=params, headers=headers)
            return await self.client.send(request, stream=stream)
        except (httpx.HTTPError, WireError, TimeoutError) as exc:
            log.warning("%s unreachable (%s %s): %s", self.name, method, path,
                        type(exc).__name__)
            raise UpstreamUnavailable(self.down) from exc
        finally:
            if submission:
                self.submissions.leave()

    async def _send_on_wire(self, method: str, path: str, json: Any,
                            headers: dict[str, str]) -> httpx.Response:
        """The same request on the submissions' own connections, its answer as an httpx
        response (what `relay` reads)."""
        assert self.wire is not None
        timeout = self.client.timeout
        answer = await self.wire.request(
            method, path, {**headers, "content-type": "application/json"}, _json_bytes(json),
            connect_timeout=timeout.connect or 5.0, read_timeout=timeout.read or 30.0)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def close(self) -> None:
        if self.wire is not None:
            self.wire.close()

    async def fetch(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
                    **kwargs: Any) -> Any:
        """The JSON body of an expected answer (None when empty); raises otherwise."""
        response = await self.send(method, path, **kwargs)
        if response.status_code in ok:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise UpstreamUnavailable(self.down) from exc
        if 400 <= response.status_code < 500:
            raise problem_of(response)
        log.warning("%s answered %s to %s %s", self.name, response.status_code, method, path)
        raise UpstreamUnavailable(self.down)
