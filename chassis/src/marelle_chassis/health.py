"""`/health/live` (the process answers) and `/health/ready` (database and broker reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[None]]


def upstream_checks(names: list[str], check_live: Callable[[str], Awaitable[None]]) -> dict[str, Check]:
    """Readiness of a web app without its own data: each upstream service's `/health/live`."""

    def check(name: str) -> Check:
        return lambda: check_live(name)

    return {name: check(name) for name in names}


def health_router(service: str, checks: dict[str, Check]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                async with asyncio.timeout(3.0):
                    await check()
                results[name] = "ok"
            except Exception as exc:  # report, never raise: this is a probe
                results[name] = f"indisponible : {type(exc).__name__}"
        healthy = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if healthy else "degraded", "service": service,
                             "checks": results}, status_code=200 if healthy else 503)

    return router
