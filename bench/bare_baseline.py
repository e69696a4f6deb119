"""The bare baseline of the rush (issue « The opening rush »): FastAPI + asyncpg, one endpoint,
one transaction of two statements — a conditional `UPDATE … SET booked = booked + 1 WHERE
booked < capacity` and an `INSERT` of the registration (validated when the UPDATE took a
place, waitlisted otherwise). No authentication, no rules, no events: what the database and the
HTTP stack cost at the very least. Run as its own process by `rush.py` (and `booking_rush.py`),
on the same PostgreSQL server, in its own database.

    python bench/bare_baseline.py setup --database postgresql://…/db --groups G:CAPACITY…
    python bench/bare_baseline.py serve --database postgresql://…/db --port P
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_group (
    id uuid PRIMARY KEY, capacity int NOT NULL, booked int NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bare_registration (
    id uuid PRIMARY KEY, family_id uuid NOT NULL, child_id uuid NOT NULL,
    group_id uuid NOT NULL REFERENCES bare_group (id), status text NOT NULL,
    requested_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS ix_bare_registration_group ON bare_registration (group_id);
"""


class Ask(BaseModel):
    family_id: uuid.UUID
    child_id: uuid.UUID
    group_id: uuid.UUID | None = None
    # booking_rush: several capacities (group × day), each taken the same way, one transaction.
    group_ids: list[uuid.UUID] = []


def create_app(database: str, pool_size: int) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.pool = await asyncpg.create_pool(database, min_size=pool_size,
                                                   max_size=pool_size)
        yield
        await app.state.pool.close()

    # As Marelle's apps (chassis NO_TELEMETRY): no per-request OpenTelemetry check.
    app = FastAPI(lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/inscriptions", status_code=201)
    async def register(ask: Ask, request: Request) -> dict[str, Any]:
        groups = ([ask.group_id] if ask.group_id else []) + ask.group_ids
        statuses = []
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            for group_id in groups:
                took = await conn.fetchval(
                    "UPDATE bare_group SET booked = booked + 1 WHERE id = $1 AND booked < capacity "
                    "RETURNING booked", group_id)
                status = "validee" if took is not None else "liste_attente"
                await conn.execute(
                    "INSERT INTO bare_registration (id, family_id, child_id, group_id, status,"
                    " requested_at) VALUES ($1, $2, $3, $4, $5, $6)", uuid.uuid4(),
                    ask.family_id, ask.child_id, group_id, status, datetime.now(UTC))
                statuses.append(status)
        return {"statuses": statuses}

    return app


async def setup(database: str, groups: list[tuple[uuid.UUID, int]]) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(SCHEMA)
        await conn.executemany("INSERT INTO bare_group (id, capacity) VALUES ($1, $2)", groups)
    finally:
        await conn.close()


async def counts(database: str, group_id: uuid.UUID) -> dict[str, int]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM bare_registration "
                                "WHERE group_id = $1 GROUP BY status", group_id)
        booked = await conn.fetchval("SELECT booked FROM bare_group WHERE id = $1", group_id)
        out = {r["status"]: int(r["n"]) for r in rows}
        out["booked"] = int(booked or 0)
        return out
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--database", required=True)
    s.add_argument("--groups", nargs="*", default=[], help="UUID:CAPACITY")
    v = sub.add_parser("serve")
    v.add_argument("--database", required=True)
    v.add_argument("--port", type=int, required=True)
    # Like a service's SQLAlchemy pool (pool_size + overflow): the same number of connections.
    v.add_argument("--pool", type=int, default=30)
    args = parser.parse_args()
    if args.command == "setup":
        asyncio.run(setup(args.database, [(uuid.UUID(g.split(":")[0]), int(g.split(":")[1]))
                                          for g in args.groups]))
        return
    import uvicorn

    uvicorn.run(create_app(args.database, args.pool), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
