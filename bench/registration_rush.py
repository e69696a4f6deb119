"""Registration rush benchmark: many families asking for the same group at the same moment.

Runs enrolment in-process (its real app, real PostgreSQL or SQLite, no Kafka) and sends
`--families` simultaneous registration requests with at most `--concurrency` in flight, against a
baseline measured in the same run: the same number of read-only offer requests (same app, same
auth, same database). Reports throughput, latencies and the ratio to the baseline, and checks that
capacity held (exactly `--capacity` validated, the rest waitlisted).

    .venv/bin/python bench/registration_rush.py --database postgresql://postgres@127.0.0.1:5432
    .venv/bin/python bench/registration_rush.py   # embedded SQLite
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marelle_chassis import migrations  # noqa: E402
from marelle_contracts import new_envelope  # noqa: E402
from marelle_contracts.identity import ChildFacts, FamilyCreated  # noqa: E402
from marelle_enrolment import handlers  # noqa: E402
from marelle_enrolment.config import EnrolmentSettings  # noqa: E402
from marelle_enrolment.main import MIGRATIONS, create_app  # noqa: E402
from tests.support import tokens  # noqa: E402
from tests.support.infra import create_pg_database  # noqa: E402


async def timed(sem: asyncio.Semaphore, call) -> float:
    async with sem:
        start = time.perf_counter()
        response = await call()
        elapsed = time.perf_counter() - start
        assert response.status_code in (200, 201), response.text
        return elapsed


def summary(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    result = {"rps": len(latencies) / wall, "p50_ms": statistics.median(ordered) * 1000,
              "p95_ms": p95 * 1000, "wall_s": wall}
    print(f"{name:<22} {result['rps']:8.1f} req/s   p50 {result['p50_ms']:7.1f} ms   "
          f"p95 {result['p95_ms']:7.1f} ms   ({len(latencies)} requests in {wall:.2f} s)")
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="postgresql://user@host:port (a fresh database is made)")
    parser.add_argument("--families", type=int, default=400)
    parser.add_argument("--capacity", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.database:
        url = await create_pg_database(args.database.rstrip("/"), "bench")
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    app = create_app(EnrolmentSettings(database_url=url, kafka_enabled=False, log_level="WARNING"))
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        staff = tokens.staff()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as c:
            now = datetime.now(UTC)
            ids: dict[str, str] = {}
            for key, path, body in [
                ("f", "facilities", lambda: {"name": "CENTRE DE LOISIRS ALSH"}),
                ("t", "activity-types", lambda: {"facility_id": ids["f"], "name": "Été"}),
                ("a", "activities", lambda: {"activity_type_id": ids["t"], "name": "ÉTÉ"}),
                ("p", "periods", lambda: {
                    "activity_id": ids["a"], "label": "Été", "start_date": (date.today() + timedelta(days=40)).isoformat(),
                    "end_date": (date.today() + timedelta(days=70)).isoformat(),
                    "opens_at": (now - timedelta(minutes=1)).isoformat(),
                    "closes_at": (now + timedelta(days=7)).isoformat(), "validation_mode": "automatique"}),
                ("g", "groups", lambda: {"period_id": ids["p"], "label": "6-11 ans", "min_age": 3,
                                         "max_age": 14, "capacity": args.capacity}),
            ]:
                ids[key] = (await c.post(f"/staff/{path}", json=body(), headers=staff)).json()["id"]
            families = []
            dispatch = handlers.identity_events(app.state.runtime)
            for i in range(args.families):
                fid, cid = uuid.uuid4(), uuid.uuid4()
                await dispatch(new_envelope(FamilyCreated(family_id=fid, name=f"F{i}", children=[
                    ChildFacts(child_id=cid, first_name="E", last_name=f"F{i}",
                               birth_date=date(date.today().year - 8, 3, 1))]), producer="identity"))
                families.append((fid, cid, tokens.parent(fid)))
            sem = asyncio.Semaphore(args.concurrency)

            start = time.perf_counter()
            base = await asyncio.gather(*(timed(sem, lambda f=f: c.get(
                f"/families/{f[0]}/children/{f[1]}/offer", headers=f[2])) for f in families))
            baseline = summary("baseline: offer (read)", base, time.perf_counter() - start)

            start = time.perf_counter()
            rush = await asyncio.gather(*(timed(sem, lambda f=f: c.post(
                f"/families/{f[0]}/registrations", headers=f[2],
                json={"child_id": str(f[1]), "group_id": ids["g"]})) for f in families))
            measured = summary("rush: registrations", rush, time.perf_counter() - start)

            wl = (await c.get(f"/staff/groups/{ids['g']}/waiting-list", headers=staff)).json()
            assert wl["places_taken"] == args.capacity, wl["places_taken"]
            assert len(wl["items"]) == args.families - args.capacity
    print(f"capacity held: {args.capacity} validated, {args.families - args.capacity} waitlisted")
    print(f"ratio rush/baseline: throughput {measured['rps'] / baseline['rps']:.2f}, "
          f"p95 latency {measured['p95_ms'] / baseline['p95_ms']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
