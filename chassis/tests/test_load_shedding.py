"""Overload is shed politely: beyond the bound, a French 503 with Retry-After at once, never a
timeout; health probes still answer; the requests admitted finish normally."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from marelle_chassis.http import LoadSheddingMiddleware


def slow_app(gate: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict[str, str]:
        await gate.wait()
        return {"ok": "oui"}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(LoadSheddingMiddleware, max_in_flight=2, retry_after=3)
    return app


async def test_beyond_the_bound_requests_get_a_french_503_at_once():
    gate = asyncio.Event()
    app = slow_app(gate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        admitted = [asyncio.create_task(client.get("/work")) for _ in range(2)]
        await asyncio.sleep(0.05)
        shed = await asyncio.wait_for(client.get("/work"), timeout=1)
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "3"
        assert shed.headers["content-type"].startswith("application/problem+json")
        assert "très sollicité" in shed.json()["detail"]
        page = await client.get("/work", headers={"accept": "text/html,*/*"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert 'http-equiv="refresh"' in page.text and "Réessayez" in page.text
        assert (await client.get("/health/live")).status_code == 200
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*admitted)] == [200, 200]
        assert (await client.get("/work")).status_code == 200  # the slots were given back
