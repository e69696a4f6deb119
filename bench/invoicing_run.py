"""A month's invoicing run for N families × D booked days at several QF brackets, against one SQL
GROUP BY computing the same totals.

Billing runs as a real process (`python -m marelle_billing serve`, uvicorn, PostgreSQL, no Kafka:
the outbox rows are written, not relayed) and is called over real HTTP on 127.0.0.1. Setup (not
measured): QF brackets, a régie and the month's tariff go through the staff API; the families,
their children, their financial profiles (five QF levels, one in six unknown: default price) and
their booked days are written into billing's tables as its consumers and staff would. Tokens are
signed by a throwaway key served as a JWKS by this script.

Measured, in the same run, on the same database:
1. baseline: ONE `SELECT family_id, sum(price) … GROUP BY family_id` joining the booked days to
   the tariff, the profiles and the brackets — the least a database needs to price the month;
2. Marelle: `POST /staff/runs` then polling `GET /staff/runs/{id}` until the draft is computed
   (every source priced by the domain's rules, diffed with what was already billed, the draft
   invoices and lines written in batches with their progress), then `POST …/finalise` (numbers,
   ledger, events in the outbox) until final.

Checks (the run fails when one is violated): every family's invoice total equals the GROUP BY's
to the cent, the grand totals are equal, a recompute of the draft gives the same lines and
totals, and the next month's run (nothing new) adds nothing.

    .venv/bin/python bench/invoicing_run.py --database postgresql://postgres@127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from booking_typical_week import cpu_seconds, serve_jwks, wait_live  # noqa: E402
from tests.support import tokens  # noqa: E402
from tests.support.infra import create_pg_database, free_port  # noqa: E402

MONTH = "2026-10"
ACTIVITY = "PERISCOLAIRE"
BRACKETS = [{"code": "A", "label": "Tranche A", "qf_min": 0, "qf_max": 450},
            {"code": "B", "label": "Tranche B", "qf_min": 451, "qf_max": 700},
            {"code": "C", "label": "Tranche C", "qf_min": 701, "qf_max": 1000},
            {"code": "D", "label": "Tranche D", "qf_min": 1001}]
PRICES = {"A": 112, "B": 237, "C": 391, "D": 503, None: 617}  # cents; None: QF unknown
QF_LEVELS = [300, 600, 850, 1400, 520, None]


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def migrate(url: str, workdir: Path) -> None:
    env = {**os.environ, "BILLING_DATABASE_URL": url, "BILLING_KAFKA_ENABLED": "false"}
    subprocess.run([sys.executable, "-m", "marelle_billing", "migrate"], env=env, check=True,
                   cwd=ROOT, stdout=(workdir / "migrate.log").open("a"), stderr=subprocess.STDOUT)


def month_days(count: int) -> list[date]:
    first = date.fromisoformat(MONTH + "-01")
    days = [first + timedelta(days=i) for i in range(31)]
    return [d for d in days if d.month == first.month and d.isoweekday() <= 5][:count]


async def seed(url: str, families: int, days: list[date]) -> None:
    """Families, children, profiles and booked days, written as billing's consumers would."""
    conn = await asyncpg.connect(plain(url))
    period_id, group_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    try:
        await conn.execute(
            "INSERT INTO period_copy (period_id, facility_name, activity_type_name, activity_name,"
            " label, start_date, end_date, closed, groups, revision, updated_at, version)"
            " VALUES ($1, 'ÉCOLE', 'Périscolaire', $2, 'Année', $3, $4, false, '[]', 1, $5, 1)",
            period_id, ACTIVITY, days[0], days[-1], now)
        fams, children, profiles, reservations = [], [], [], []
        for i in range(families):
            family_id, child_id = uuid.uuid4(), uuid.uuid4()
            fams.append((family_id, f"Famille {i}", f"f{i}@example.org", "[]", 1, now, 1, 1))
            children.append((child_id, family_id, "Enfant", f"N{i}", date(2018, 1, 1), 1,
                             uuid.uuid4(), now, 1))
            qf = QF_LEVELS[i % len(QF_LEVELS)]
            if qf is not None:
                profiles.append((family_id, qf, date(2026, 1, 15), "caf", True, 1, now))
            registration_id = uuid.uuid4()
            for day in days:
                reservations.append((uuid.uuid4(), registration_id, child_id, family_id,
                                     period_id, group_id, day, "journee", "Journée",
                                     "reservee", 1, 1, now))
        await conn.copy_records_to_table("family_copy", records=fams, columns=[
            "family_id", "name", "email", "guardian_phones", "revision", "updated_at", "version",
            "email_version"])
        await conn.copy_records_to_table("child_copy", records=children, columns=[
            "child_id", "family_id", "first_name", "last_name", "birth_date", "revision",
            "source_event_id", "updated_at", "version"])
        await conn.copy_records_to_table("financial_profile", records=profiles, columns=[
            "family_id", "qf", "qf_date", "qf_source", "resident", "version", "updated_at"])
        await conn.copy_records_to_table("reservation_copy", records=reservations, columns=[
            "reservation_id", "registration_id", "child_id", "family_id", "period_id",
            "group_id", "day", "unit", "unit_label", "status", "version", "revision",
            "updated_at"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


BASELINE = """
SELECT r.family_id, sum(coalesce(pb.price_cents, pd.price_cents)) AS total
FROM reservation_copy r
JOIN period_copy p ON p.period_id = r.period_id
JOIN tariff t ON t.activity_name = p.activity_name AND t.unit = r.unit
     AND t.valid_from <= r.day AND (t.valid_to IS NULL OR r.day <= t.valid_to)
LEFT JOIN financial_profile f ON f.family_id = r.family_id
LEFT JOIN qf_bracket b ON f.qf IS NOT NULL AND f.qf >= b.qf_min
     AND (b.qf_max IS NULL OR f.qf <= b.qf_max)
LEFT JOIN tariff_price pb ON pb.tariff_id = t.tariff_id AND pb.bracket_code = b.code
LEFT JOIN tariff_price pd ON pd.tariff_id = t.tariff_id AND pd.bracket_code IS NULL
WHERE r.status = 'reservee' AND r.day BETWEEN $1 AND $2
GROUP BY r.family_id
"""


async def baseline(url: str, days: list[date]) -> tuple[float, dict[str, int]]:
    conn = await asyncpg.connect(plain(url))
    try:
        started = time.perf_counter()
        rows = await conn.fetch(BASELINE, days[0], days[-1])
        return time.perf_counter() - started, {str(r["family_id"]): int(r["total"]) for r in rows}
    finally:
        await conn.close()


async def invoiced(url: str, run_id: str) -> tuple[dict[str, int], int]:
    conn = await asyncpg.connect(plain(url))
    try:
        rows = await conn.fetch("SELECT family_id, kind, total_cents FROM invoice WHERE run_id = $1",
                                uuid.UUID(run_id))
        lines = await conn.fetchval(
            "SELECT count(*) FROM invoice_line l JOIN invoice i ON i.invoice_id = l.invoice_id"
            " WHERE i.run_id = $1", uuid.UUID(run_id))
        return ({str(r["family_id"]): int(r["total_cents"]) * (1 if r["kind"] == "facture" else -1)
                 for r in rows}, int(lines))
    finally:
        await conn.close()


async def wait_run(client: httpx.AsyncClient, run_id: str, until: set[str],
                   timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = (await client.get(f"/staff/runs/{run_id}", headers=tokens.staff())).json()
        if run["status"] in until:
            return run
        if run["status"] == "echec":
            raise SystemExit(f"the run failed: {run}")
        await asyncio.sleep(0.5)
    raise SystemExit("the run did not finish in time")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True,
                        help="postgresql://user@host:port (a fresh database is made)")
    parser.add_argument("--families", type=int, default=20000)
    parser.add_argument("--days", type=int, default=20)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="marelle-bench-"))
    jwks_port = serve_jwks()
    url = await create_pg_database(args.database, "bench_invoicing")
    migrate(url, workdir)
    days = month_days(args.days)
    port = free_port()
    env = {**os.environ, "BILLING_DATABASE_URL": url, "BILLING_PORT": str(port),
           "BILLING_KAFKA_ENABLED": "false", "BILLING_LOG_LEVEL": "WARNING",
           "BILLING_IDENTITY_URL": f"http://127.0.0.1:{jwks_port}"}
    process = subprocess.Popen([sys.executable, "-m", "marelle_billing", "serve", "--no-migrate"],
                               env=env, cwd=ROOT, stdout=(workdir / "billing.log").open("w"),
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    staff = tokens.staff()
    try:
        await wait_live(base, process)
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            for method, path, body in [
                ("PUT", "/staff/brackets", {"brackets": BRACKETS}),
                ("POST", "/staff/regies", {"code": "ENFANCE", "name": "Régie Enfance"}),
                ("POST", "/staff/tariffs", {
                    "regie_code": "ENFANCE", "activity_name": ACTIVITY, "unit": "journee",
                    "label": "Journée", "valid_from": "2026-09-01",
                    "prices": [{"bracket_code": b, "price_cents": c}
                               for b, c in PRICES.items()]})]:
                r = await client.request(method, path, json=body, headers=staff)
                if r.status_code >= 400:
                    raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
            print(f"seeding {args.families} families × {len(days)} days…", file=sys.stderr)
            await seed(url, args.families, days)

            sql_time, expected = await baseline(url, days)

            cpu_before = cpu_seconds(process.pid)
            started = time.perf_counter()
            r = await client.post("/staff/runs", json={"regie_code": "ENFANCE", "month": MONTH},
                                  headers=staff)
            r.raise_for_status()
            run_id = r.json()["run_id"]
            draft = await wait_run(client, run_id, {"brouillon"})
            compute_time = time.perf_counter() - started
            compute_cpu = cpu_seconds(process.pid) - cpu_before
            totals, lines = await invoiced(url, run_id)

            r = await client.post(f"/staff/runs/{run_id}/recompute", headers=staff)
            r.raise_for_status()
            again = await wait_run(client, run_id, {"brouillon"})
            totals_again, lines_again = await invoiced(url, run_id)

            cpu_before = cpu_seconds(process.pid)
            started = time.perf_counter()
            r = await client.post(f"/staff/runs/{run_id}/finalise", headers=staff)
            r.raise_for_status()
            final = await wait_run(client, run_id, {"finale"})
            finalise_time = time.perf_counter() - started
            finalise_cpu = cpu_seconds(process.pid) - cpu_before

            r = await client.post("/staff/runs", json={"regie_code": "ENFANCE",
                                                       "month": "2026-11"}, headers=staff)
            r.raise_for_status()
            november = await wait_run(client, r.json()["run_id"], {"brouillon"})
    finally:
        process.terminate()
        process.wait(30)

    mismatched = [f for f in expected if totals.get(f) != expected[f]] + \
        [f for f in totals if f not in expected]
    checks = {
        "every_family_total_equal_to_the_cent": not mismatched,
        "grand_total_equal": sum(totals.values()) == sum(expected.values()),
        "recompute_same_lines_and_totals": totals_again == totals and lines_again == lines,
        "next_month_adds_nothing": november["invoices"] == 0 and november["credit_notes"] == 0
        and november["lines"] == 0,
        "run_counts_match": draft["invoices"] == len(expected) and final["status"] == "finale",
    }
    result = {
        "families": args.families, "days": len(days), "sources": args.families * len(days),
        "baseline_sql_group_by": {"seconds": round(sql_time, 3),
                                  "grand_total_cents": sum(expected.values())},
        "marelle_run": {"compute_seconds": round(compute_time, 2),
                        "finalise_seconds": round(finalise_time, 2),
                        "invoices": draft["invoices"], "lines": lines,
                        "grand_total_cents": sum(totals.values()),
                        "cpu_ms_per_family_compute": round(compute_cpu * 1000 / args.families, 2),
                        "cpu_ms_per_family_finalise": round(finalise_cpu * 1000 / args.families, 2),
                        "recompute_status": again["status"]},
        "ratio_compute_vs_sql": round(sql_time / compute_time, 4),
        "ratio_compute_and_finalise_vs_sql": round(sql_time / (compute_time + finalise_time), 4),
        "checks": checks,
        "mismatched_families": mismatched[:5],
    }
    print(json.dumps(result, indent=2))
    from results_io import save

    m = result["marelle_run"]
    held = all(checks.values())
    print("result:", save("invoicing_run", result, (
        f"{args.families} families × {len(days)} booked days at {len(PRICES)} price levels "
        f"(4 QF brackets + unknown QF) = {result['sources']} priced days. One SQL GROUP BY: "
        f"{sql_time:.2f} s. Marelle's run over HTTP: draft computed in {m['compute_seconds']} s "
        f"({m['cpu_ms_per_family_compute']} ms of billing CPU per family), finalised (numbers, "
        f"ledger, events) in {m['finalise_seconds']} s ({m['cpu_ms_per_family_finalise']} ms per "
        f"family). Ratio (SQL time / draft time): {result['ratio_compute_vs_sql']}; with the "
        f"finalisation: {result['ratio_compute_and_finalise_vs_sql']}. Totals equal to the cent, "
        f"recompute identical, next month adds nothing: {'held' if held else 'VIOLATED'}.")))
    if not held:
        raise SystemExit(f"checks violated: {checks}")


if __name__ == "__main__":
    asyncio.run(main())
