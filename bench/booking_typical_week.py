"""A month of typical-week bookings for N families at once, against one INSERT … SELECT.

Booking runs as a real process (`python -m marelle_booking serve`, uvicorn, PostgreSQL, no Kafka:
the outbox rows are written, not relayed) and is called over real HTTP on 127.0.0.1. Setup (not
measured): N families with a validated registration on one period are written into booking's
copies as its consumers would, and the calendar is set through the staff API (units « journée »,
which implies « repas », capacities for everyone). Tokens are signed by a throwaway key served as
a JWKS by this script (booking verifies every token as in production).

Measured, in the same run, on two fresh databases of the same server:
1. baseline: ONE `INSERT INTO reservation … SELECT` of exactly the rows the typical week makes
   (every family × every opening day of the month on Monday, Tuesday, Thursday, Friday × the two
   units), plus the day counters: what the database needs at the very least;
2. Marelle: N `POST …/typical-week` requests (`--concurrency` in flight), each checking the rules
   (opening days, deadlines, horizon, capacity by a conditional statement per day and unit,
   duplicates) and writing its reservations and events (outbox) — the same rows.

Reports both times, rows per second, the ratio, booking's CPU per request and per row, and checks
the invariants (same number of booked rows, no day over capacity).

    .venv/bin/python bench/booking_typical_week.py --database postgresql://postgres@127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import asyncpg
import httpx
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import tokens  # noqa: E402
from tests.support.infra import create_pg_database, free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import booking_calendar_body  # noqa: E402  (shared with booking_rush.py)

TICKS = os.sysconf("SC_CLK_TCK")
WEEKDAYS = (1, 2, 4, 5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def serve_jwks() -> int:
    jwk = json.loads(RSAAlgorithm.to_jwk(tokens._KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": tokens._KID}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return port


def migrate(url: str, workdir: Path) -> None:
    env = {**os.environ, "BOOKING_DATABASE_URL": url, "BOOKING_KAFKA_ENABLED": "false"}
    subprocess.run([sys.executable, "-m", "marelle_booking", "migrate"], env=env, check=True,
                   cwd=ROOT, stdout=(workdir / "migrate.log").open("a"), stderr=subprocess.STDOUT)


async def seed(url: str, families: int, start: date, end: date) -> dict:
    """N families with a validated registration, written as booking's consumers would."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    period_id, group_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    groups = json.dumps([{"group_id": str(group_id), "label": "6-8 ans", "min_age": 6,
                          "max_age": 8, "capacity": families, "closed": False}])
    try:
        await conn.execute(
            "INSERT INTO period_copy (period_id, facility_name, activity_type_name, activity_name,"
            " label, start_date, end_date, closed, groups, revision, updated_at, version)"
            " VALUES ($1, 'CENTRE DE LOISIRS ALSH', 'Mercredi, vacances', 'HIVER', 'Banc', $2, $3,"
            " false, $4, 1, $5, 1)", period_id, start, end, groups, now)
        rows = []
        for i in range(families):
            family_id, child_id = uuid.uuid4(), uuid.uuid4()
            rows.append((uuid.uuid4(), child_id, family_id, period_id, group_id, start, end, now))
        await conn.executemany(
            "INSERT INTO registration_copy (registration_id, child_id, family_id, period_id,"
            " group_id, facility_name, activity_name, period_label, group_label, start_date,"
            " end_date, status, typical_week, revision, updated_at, version, memo) VALUES"
            " ($1, $2, $3, $4, $5, 'CENTRE DE LOISIRS ALSH', 'HIVER', 'Banc', '6-8 ans', $6, $7,"
            " 'validee', '[]', 1, $8, 1, '')", rows)
        await conn.executemany(
            "INSERT INTO child_copy (child_id, family_id, first_name, last_name, birth_date,"
            " revision, source_event_id, updated_at, version) VALUES ($1, $2, 'Enfant', 'Banc',"
            " '2018-01-01', 1, $3, $4, 1)", [(r[1], r[2], uuid.uuid4(), now) for r in rows])
    finally:
        await conn.close()
    return {"period_id": period_id, "group_id": group_id,
            "registrations": [(r[0], r[2]) for r in rows]}


async def baseline(url: str, data: dict, days: list[date]) -> tuple[float, int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        started = time.perf_counter()
        async with conn.transaction():
            inserted = await conn.execute(
                "INSERT INTO reservation (id, registration_id, child_id, family_id, period_id,"
                " group_id, unit, day, status, requested_at, seq, version)"
                " SELECT gen_random_uuid(), r.registration_id, r.child_id, r.family_id,"
                " r.period_id, r.group_id, u.unit, d.day, 'reservee', now(),"
                " row_number() OVER (), 1"
                " FROM registration_copy r CROSS JOIN (VALUES ('journee'), ('repas')) u(unit)"
                " CROSS JOIN unnest($1::date[]) d(day)", days)
            await conn.execute(
                "INSERT INTO day_slot (period_id, group_id, unit, day, capacity, booked)"
                " SELECT period_id, group_id, unit, day, $1::int, count(*) FROM reservation"
                " GROUP BY period_id, group_id, unit, day", len(data["registrations"]))
        elapsed = time.perf_counter() - started
        return elapsed, int(inserted.split()[-1])
    finally:
        await conn.close()


async def booked_rows(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        booked = await conn.fetchval("SELECT count(*) FROM reservation WHERE status = 'reservee'")
        over = await conn.fetchval("SELECT count(*) FROM day_slot WHERE booked > capacity")
        return int(booked), int(over)
    finally:
        await conn.close()


async def wait_live(base: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"booking exited with code {process.returncode}")
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("booking did not start in time")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True,
                        help="postgresql://user@host:port (fresh databases are made)")
    parser.add_argument("--families", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    today = date.today()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)  # next month
    start, end = first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    workdir = Path(tempfile.mkdtemp(prefix="marelle-bench-"))
    jwks_port = serve_jwks()
    base_url = await create_pg_database(args.database, "bench_sql")
    http_url = await create_pg_database(args.database, "bench_http")
    for url in (base_url, http_url):
        migrate(url, workdir)
    print(f"seeding {args.families} families twice…", file=sys.stderr)
    data_sql = await seed(base_url, args.families, start, end)
    data = await seed(http_url, args.families, start, end)

    port = free_port()
    env = {**os.environ, "BOOKING_DATABASE_URL": http_url, "BOOKING_PORT": str(port),
           "BOOKING_KAFKA_ENABLED": "false", "BOOKING_LOG_LEVEL": "WARNING",
           "BOOKING_IDENTITY_URL": f"http://127.0.0.1:{jwks_port}"}
    process = subprocess.Popen([sys.executable, "-m", "marelle_booking", "serve", "--no-migrate"],
                               env=env, cwd=ROOT, stdout=(workdir / "booking.log").open("w"),
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_live(base, process)
        async with httpx.AsyncClient(base_url=base, timeout=120,
                                     limits=httpx.Limits(max_connections=args.concurrency)) as client:
            r = await client.put(f"/staff/calendars/{data['period_id']}", headers=tokens.staff(),
                                 json=booking_calendar_body(data["group_id"], args.families))
            r.raise_for_status()
            opening = [date.fromisoformat(d) for d in r.json()["opening_days"]]
            await client.put(f"/staff/calendars/{data_sql['period_id']}", headers=tokens.staff(),
                             json=booking_calendar_body(data_sql["group_id"], args.families))
            days = [d for d in opening if d.isoweekday() in WEEKDAYS]

            sql_time, sql_rows = await baseline(base_url, data_sql, days)

            latencies: list[float] = []
            errors: dict[int, int] = {}
            queue = list(data["registrations"])
            headers = {fam: tokens.parent(fam) for _, fam in queue}
            body = {"start": start.isoformat(), "end": end.isoformat(),
                    "days": [{"weekday": d, "units": ["journee"]} for d in WEEKDAYS]}

            async def worker() -> None:
                while queue:
                    registration_id, family_id = queue.pop()
                    sent = time.perf_counter()
                    r = await client.post(
                        f"/families/{family_id}/registrations/{registration_id}/typical-week",
                        json=body, headers=headers[family_id])
                    latencies.append(time.perf_counter() - sent)
                    if r.status_code != 200:
                        errors[r.status_code] = errors.get(r.status_code, 0) + 1

            cpu_before = cpu_seconds(process.pid)
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            http_time = time.perf_counter() - started
            cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(30)

    http_rows, over = await booked_rows(http_url)
    ordered = sorted(latencies)
    result = {
        "families": args.families, "concurrency": args.concurrency,
        "days": len(days), "rows_expected": sql_rows,
        "baseline_sql": {"seconds": round(sql_time, 3), "rows": sql_rows,
                         "rows_per_s": round(sql_rows / sql_time)},
        "marelle_http": {"seconds": round(http_time, 3), "rows": http_rows,
                         "rows_per_s": round(http_rows / http_time),
                         "requests_per_s": round(args.families / http_time, 1),
                         "p50_ms": round(statistics.median(ordered) * 1000),
                         "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000),
                         "errors": errors,
                         "cpu_ms_per_request": round(cpu * 1000 / args.families, 1),
                         "cpu_ms_per_row": round(cpu * 1000 / max(http_rows, 1), 2)},
        "ratio_speed_vs_sql": round(sql_time / http_time, 4),
    }
    print(json.dumps(result, indent=2))
    from results_io import save

    m = result["marelle_http"]
    print("result:", save("booking_typical_week", result, (
        f"{args.families} families × {len(days)} days × 2 units = {sql_rows} rows. One INSERT … "
        f"SELECT: {sql_time:.2f} s. {args.families} typical-week requests over HTTP "
        f"({args.concurrency} in flight): {http_time:.1f} s, p50 {m['p50_ms']} ms, p95 "
        f"{m['p95_ms']} ms, booking CPU {m['cpu_ms_per_request']} ms per request. Ratio (SQL "
        f"time / HTTP time): {result['ratio_speed_vs_sql']}. Invariants: "
        f"{'held' if http_rows == sql_rows and not over and not errors else 'VIOLATED'}.")))
    if http_rows != sql_rows or over or errors:
        raise SystemExit(f"invariants violated: {http_rows} booked rows vs {sql_rows} expected, "
                         f"{over} days over capacity, errors {errors}")


if __name__ == "__main__":
    asyncio.run(main())
