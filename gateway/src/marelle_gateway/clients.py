"""Calls to the upstream services, over one shared `httpx.AsyncClient`.

The gateway holds no domain state: each method asks the service that owns the data and turns
transport failures into values (or `UpstreamUnavailable`) the pages and the API can show.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from marelle_chassis.http import outgoing_headers
from marelle_contracts.dashboard import RequestItem, RequestItems

from marelle_gateway.billing import BillingClient
from marelle_gateway.booking import BookingClient
from marelle_gateway.enrolment import EnrolmentClient
from marelle_gateway.identity import IdentityClient, UpstreamUnavailable  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

# Services whose request history appears on the parent dashboard.
HISTORY_SERVICES = ("identity", "enrolment", "booking", "billing")


# One request a family sent, as every service reports it (`GET /families/{id}/requests`).
UpstreamRequest = RequestItem
_RequestList = RequestItems


@dataclass
class RequestHistory:
    items: list[UpstreamRequest] = field(default_factory=list)
    # Services that could not answer: the dashboard says so, politely, per service.
    unavailable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    up: bool
    problem: str | None = None


def _aware(value: datetime) -> datetime:
    # Services may send naive UTC; mixing naive and aware datetimes would break the sort.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Upstreams:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str],
                 proxy_secret: str = "", submissions: int = 128, wire: bool = False) -> None:
        self.client = client
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.identity = IdentityClient(client, self.urls["identity"], proxy_secret)
        self.enrolment = EnrolmentClient(client, self.urls["enrolment"], proxy_secret,
                                         submissions, wire)
        self.booking = BookingClient(client, self.urls["booking"], proxy_secret, submissions,
                                     wire)
        self.billing = BillingClient(client, self.urls["billing"], proxy_secret)

    def close(self) -> None:
        """The submissions' own connections (wire.py)."""
        self.enrolment.close()
        self.booking.close()

    async def _get(self, service: str, path: str, token: str | None = None) -> httpx.Response:
        headers = outgoing_headers()
        if token:
            headers["authorization"] = f"Bearer {token}"
        return await self.client.get(self.urls[service] + path, headers=headers)

    async def check_live(self, service: str) -> None:
        """Raise unless the service's `/health/live` answers 200 (a readiness check)."""
        response = await self._get(service, "/health/live")
        response.raise_for_status()

    async def status(self, service: str) -> ServiceStatus:
        try:
            await self.check_live(service)
        except httpx.HTTPStatusError as exc:
            return ServiceStatus(service, self.urls[service], False, f"HTTP {exc.response.status_code}")
        except httpx.HTTPError as exc:
            return ServiceStatus(service, self.urls[service], False, type(exc).__name__)
        return ServiceStatus(service, self.urls[service], True)

    async def statuses(self) -> list[ServiceStatus]:
        return list(await asyncio.gather(*(self.status(name) for name in self.urls)))

    async def _family_requests(self, service: str, family_id: str,
                               token: str) -> list[UpstreamRequest]:
        response = await self._get(service, f"/families/{family_id}/requests", token)
        response.raise_for_status()
        return _RequestList.model_validate_json(response.content).items

    async def family_requests(self, family_id: str, token: str) -> RequestHistory:
        """Every service's requests for the family, most recent first, fetched concurrently.

        `family_id` comes from the verified token, which every service checks again.
        """
        services = [name for name in HISTORY_SERVICES if name in self.urls]
        results = await asyncio.gather(
            *(self._family_requests(name, family_id, token) for name in services),
            return_exceptions=True)
        history = RequestHistory()
        for service, result in zip(services, results, strict=True):
            if isinstance(result, (httpx.HTTPError, ValidationError)):
                log.warning("request history of %s unavailable: %s", service, type(result).__name__)
                history.unavailable.append(service)
            elif isinstance(result, BaseException):
                raise result
            else:
                history.items.extend(result)
        history.items.sort(key=lambda item: _aware(item.created_at), reverse=True)
        return history

    async def create_provisional_family(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.identity.send("POST", "/provisional/families", json=payload)
