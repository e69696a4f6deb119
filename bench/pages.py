"""Scenario « pages »: two pages that grow with the data, timed and their queries counted,
against ONE SQL query returning the same rows.

Setup (not measured), written into enrolment's tables as its staff API and consumers would: a
catalogue (one facility, activity, 10 periods with a group each), `--waiting` families with one
child each on the waiting list of the first group (ranks 1…N), and one family with 5 children ×
10 periods = `--requests` (50) registrations: validated, pending and waitlisted (5 of them in the
big waiting list). Enrolment, booking and billing run as real processes (PostgreSQL, no Kafka:
nothing here publishes), the gateway in front.

Measured, alternating, `--repeat` times each (median reported):
1. staff waiting list: `GET /staff/groups/{group}/waiting-list` on enrolment (what the
   back-office shows) vs one `SELECT … row_number() OVER …` returning the same rows;
2. the parent's requests: the gateway's API `GET /api/v1/inscriptions` (enrolment's listing with
   waiting-list positions) and `GET /api/v1/tableau-de-bord` (the dashboard: enrolment, booking
   and billing asked concurrently; identity's part is « indisponible » here since the bench signs
   its own tokens) vs one SELECT returning the family's 50 rows with their positions.
Queries per page: pg_stat_statements of enrolment's database (BEGIN/COMMIT apart), with the
fixed number checked at two sizes (the page must not do one query per row).

Target: ≤ 5 × the single query, a fixed number of queries.

    .venv/bin/python bench/pages.py                       # fresh PostgreSQL
    .venv/bin/python bench/pages.py --waiting 500 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    CpuMeter,
    Profile,
    QueryCounter,
    Run,
    common_arguments,
    md_table,
    plain,
    profile_markdown,
    run_scenario,
    save,
    say,
)

# Statements of background loops (queue decider, outbox relay, pruning), not of the page.
BACKGROUND = ("queue_ticket", "queue_counter", "outbox_message", "inbox_message", "advisory")

# The listing's columns and joins, as enrolment's page returns them; each query adds its position.
_COLUMNS = """
SELECT r.*, c.first_name, c.last_name, f.name AS facility_name, a.name AS activity_name,
       a.pre_registration, p.label AS period_label, p.start_date, p.end_date,
       g.label AS group_label, g.capacity, f.id AS facility_id,"""
_JOINS = """
FROM registration r
JOIN child_copy c ON c.child_id = r.child_id
JOIN period p ON p.id = r.period_id
JOIN activity_group g ON g.id = r.group_id
JOIN activity a ON a.id = p.activity_id
JOIN activity_type t ON t.id = a.activity_type_id
JOIN facility f ON f.id = t.facility_id"""

WAITING_SQL = _COLUMNS + """
       row_number() OVER (ORDER BY r.waitlist_rank, r.id) AS waitlist_position""" + _JOINS + """
WHERE r.group_id = $1 AND r.status = 'liste_attente'
ORDER BY r.waitlist_rank, r.id
"""

FAMILY_SQL = _COLUMNS + """
       CASE WHEN r.status = 'liste_attente' THEN
         (SELECT count(*) FROM registration w WHERE w.group_id = r.group_id
            AND w.status = 'liste_attente' AND (w.waitlist_rank, w.id) <= (r.waitlist_rank, r.id))
       END AS waitlist_position""" + _JOINS + """
WHERE r.family_id = $1
ORDER BY p.start_date DESC, c.first_name"""


async def seed(url: str, waiting: int, requests: int) -> dict[str, Any]:
    conn = await asyncpg.connect(plain(url))
    now = datetime.now(UTC)
    facility, kind, activity = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    periods = 10
    per_child = requests // periods or 1
    try:
        await conn.execute("INSERT INTO facility (id, name, created_at) VALUES ($1, "
                           "'CENTRE DE LOISIRS BANC', $2)", facility, now)
        await conn.execute("INSERT INTO activity_type (id, facility_id, name) VALUES ($1, $2, "
                           "'Vacances')", kind, facility)
        await conn.execute("INSERT INTO activity (id, activity_type_id, name, pre_registration)"
                           " VALUES ($1, $2, 'ÉTÉ', false)", activity, kind)
        period_ids, group_ids = [], []
        for k in range(periods):
            pid, gid = uuid.uuid4(), uuid.uuid4()
            start = date(2027, 7, 1) + timedelta(days=7 * k)
            await conn.execute(
                "INSERT INTO period (id, activity_id, label, start_date, end_date, opens_at,"
                " closes_at, validation_mode, promotion_mode, created_at) VALUES ($1, $2, $3, $4,"
                " $5, $6, $7, 'automatique', 'structure', $6)", pid, activity,
                f"Semaine {k + 1}", start, start + timedelta(days=4), now - timedelta(days=1),
                now + timedelta(days=30))
            await conn.execute("INSERT INTO activity_group (id, period_id, label, min_age,"
                               " max_age, capacity) VALUES ($1, $2, '6-11 ans', 3, 17, 500)",
                               gid, pid)
            period_ids.append(pid)
            group_ids.append(gid)
        # The big waiting list (the family's children join it at the end).
        children, families, regs = [], [], []
        for i in range(waiting - per_child):
            fam, child = uuid.uuid4(), uuid.uuid4()
            families.append((fam, f"Famille {i}"))
            children.append((child, fam, f"Enfant{i}"))
            regs.append((uuid.uuid4(), child, fam, period_ids[0], group_ids[0], "liste_attente",
                         now - timedelta(seconds=waiting - i), float(i + 1)))
        family = uuid.uuid4()
        families.append((family, "Famille Cinquante"))
        kids = [uuid.uuid4() for _ in range(per_child)]
        children += [(c, family, f"Enfant{j}") for j, c in enumerate(kids)]
        statuses = ("liste_attente", "validee", "en_attente", "liste_attente", "validee")
        for k in range(periods):
            for j, child in enumerate(kids):
                status = "liste_attente" if k == 0 else statuses[(j + k) % len(statuses)]
                rank = float(waiting - per_child + j + 1) if k == 0 else (
                    float(j + 1) if status == "liste_attente" else None)
                regs.append((uuid.uuid4(), child, family, period_ids[k], group_ids[k], status,
                             now - timedelta(minutes=k * 10 + j), rank))
        await conn.executemany(
            "INSERT INTO family_copy (family_id, name, guardian_phones, revision, updated_at,"
            " version, email_version) VALUES ($1, $2, '[]', 1, now(), 1, 1)", families)
        await conn.executemany(
            "INSERT INTO child_copy (child_id, family_id, first_name, last_name, birth_date,"
            " revision, source_event_id, updated_at, version) VALUES ($1, $2, $3, 'Banc',"
            " '2018-03-01', 1, gen_random_uuid(), now(), 1)", children)
        await conn.executemany(
            "INSERT INTO registration (id, child_id, family_id, period_id, group_id, status,"
            " requested_at, waitlist_rank) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", regs)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {"group_id": group_ids[0], "family_id": family, "requests": per_child * periods}


async def timed_sql(url: str, sql: str, arg: Any) -> tuple[float, int]:
    conn = await asyncpg.connect(plain(url))
    try:
        await conn.fetch(sql, arg)  # warm: plan cached, pages in memory, as for the service
        started = time.perf_counter()
        rows = await conn.fetch(sql, arg)
        return time.perf_counter() - started, len(rows)
    finally:
        await conn.close()


async def timed_get(client: httpx.AsyncClient, url: str, headers: dict[str, str]
                    ) -> tuple[float, Any]:
    started = time.perf_counter()
    response = await client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


async def measure(run: Run, args: argparse.Namespace, waiting: int, profile: bool
                  ) -> dict[str, Any]:
    stack = run.stack(kafka=False)
    await stack.start(["enrolment", "booking", "billing"], gateway=True)
    db = stack.databases["enrolment"]
    say(f"seeding a waiting list of {waiting} and a family with {args.requests} requests")
    data = await seed(db, waiting, args.requests)
    counter = QueryCounter(run.infra, db)
    staff = run.tokens.staff()
    parent = run.tokens.parent(data["family_id"])
    pages = {
        "waiting_list": (stack.url("enrolment") + f"/staff/groups/{data['group_id']}/waiting-list",
                         staff, WAITING_SQL, data["group_id"], lambda b: b["items"]),
        "parent_registrations": (stack.url("gateway") + "/api/v1/inscriptions", parent,
                                 FAMILY_SQL, data["family_id"], lambda b: b["items"]),
        "parent_dashboard": (stack.url("gateway") + "/api/v1/tableau-de-bord", parent,
                             FAMILY_SQL, data["family_id"], lambda b: b["items"]),
    }
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=300) as client:
        for name, (url, headers, sql, arg, items) in pages.items():
            await timed_get(client, url, headers)  # warm-up (connections, caches)
            http_times, sql_times, queries, rows = [], [], [], 0
            meter = CpuMeter(stack.procs.values(), run.infra).start()
            spy = (Profile(stack.procs["enrolment"], run.workdir / f"{name}.spy", rate=100).start()
                   if profile and name == "waiting_list" else None)
            for _ in range(args.repeat):
                t, n = await timed_sql(db, sql, arg)
                sql_times.append(t)
                if run.infra.stat_statements:
                    await counter.reset()
                t, body = await timed_get(client, url, headers)
                if run.infra.stat_statements:
                    read = await counter.read()
                    queries.append(sum(q["calls"] for q in read["top_all"]
                                       if not any(b in q["query"] for b in BACKGROUND)))
                    top = read["top"]
                http_times.append(t)
                rows = len(items(body))
                if rows != n and name != "parent_dashboard":
                    raise SystemExit(f"{name}: the page shows {rows} rows, the query {n}")
            cpu = meter.stop()
            top_profile = spy.stop() if spy else None
            entry = {
                "rows_page": rows, "rows_sql": n,
                "http_ms_median": round(statistics.median(http_times) * 1000, 1),
                "http_ms_all": [round(x * 1000, 1) for x in http_times],
                "sql_ms_median": round(statistics.median(sql_times) * 1000, 2),
                "sql_ms_all": [round(x * 1000, 2) for x in sql_times],
                "cpu_ms_per_page": {k: round(v * 1000 / args.repeat, 1) for k, v in cpu.items()},
                "queries_per_page": queries,
                "top_statements": top if run.infra.stat_statements else [],
            }
            entry["ratio_page_over_sql"] = round(entry["http_ms_median"] / entry["sql_ms_median"], 1)
            if top_profile is not None:
                entry["profile"] = top_profile
            out[name] = entry
            say(f"{waiting}: {name}: {entry['http_ms_median']} ms vs {entry['sql_ms_median']} ms "
                f"SQL, queries {queries}")
    stack.stop()
    return out


async def scenario(run: Run, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    # A small size first: the number of queries must be the same at both sizes.
    small = await measure(run, args, max(args.requests, args.waiting // 10), profile=False)
    big = await measure(run, args, args.waiting, profile=not args.no_profile)
    load_after = os.getloadavg()
    problems = []
    for name in big:
        qs, qb = set(small[name]["queries_per_page"]), set(big[name]["queries_per_page"])
        if qs and (len(qs | qb) != 1):
            problems.append(f"{name}: queries per page vary with the size ({sorted(qs)} at "
                            f"{args.waiting // 10}, {sorted(qb)} at {args.waiting})")
    result = {"waiting": args.waiting, "requests": args.requests, "repeat": args.repeat,
              "small_size": max(args.requests, args.waiting // 10), "small": small, "big": big,
              "fixed_number_of_queries": not problems, "problems": problems,
              "load_average_before": load_before, "load_average_after": load_after}
    labels = {"waiting_list": f"staff waiting list ({args.waiting:,} entries), enrolment",
              "parent_registrations": f"parent's requests ({args.requests}), gateway API "
                                      "`/api/v1/inscriptions`",
              "parent_dashboard": f"parent's dashboard ({args.requests} requests + other "
                                  "services), gateway API `/api/v1/tableau-de-bord`"}
    rows = []
    for name, e in big.items():
        q = sorted(set(e["queries_per_page"]))
        qs = sorted(set(small[name]["queries_per_page"]))
        rows.append((labels[name], f"{e['http_ms_median']} ms", f"{e['sql_ms_median']} ms",
                     f"**{e['ratio_page_over_sql']}×**", f"{q} (at {result['small_size']:,}: {qs})",
                     ", ".join(f"{k} {v}" for k, v in e["cpu_ms_per_page"].items() if v >= 0.5)))
    profile = big["waiting_list"].get("profile", {})
    summary = (
        f"Median of {args.repeat} requests each, alternating with the single query (asyncpg, "
        f"warm). Load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f} "
        f"(2 cores shared with other work).\n\n"
        + md_table(["page", "page (HTTP)", "one SQL query", "ratio", "queries per page "
                    "(enrolment's database)", "CPU ms per page"], rows)
        + f"\n\nTarget: ≤ 5× the single query and a fixed number of queries: queries "
        f"{'fixed' if not problems else 'NOT fixed: ' + '; '.join(problems)}.\n\n"
        + profile_markdown("Where enrolment's time goes serving the waiting list", profile))
    save(args.save_as or "pages", result, summary)
    if problems:
        raise SystemExit("; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(parser)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run_scenario(scenario, args, need_kafka=False)


if __name__ == "__main__":
    main()
