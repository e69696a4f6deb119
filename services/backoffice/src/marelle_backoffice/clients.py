"""Calls to the services over one shared `httpx.AsyncClient` (staff endpoints come later)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from marelle_chassis.http import outgoing_headers


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    up: bool
    problem: str | None = None


class Services:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str]) -> None:
        self.client = client
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}

    async def check_live(self, service: str) -> None:
        """Raise unless the service's `/health/live` answers 200 (a readiness check)."""
        response = await self.client.get(self.urls[service] + "/health/live",
                                         headers=outgoing_headers())
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
