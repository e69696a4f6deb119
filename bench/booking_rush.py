"""Scenario « booking rush »: N families, logged in beforehand, book the same D days of a period
at the opening (group × day capacities of M places), through the gateway's API, against the
bare endpoint taking D capacities per request in the same run.

Setup (not measured): booking and the gateway as real processes on a fresh PostgreSQL and Kafka;
N children with a validated registration written into booking's copies as its consumers would;
the calendar set through booking's staff API (« journée », implying « repas »; capacity M per
group × day × unit); tokens signed beforehand (harness.Tokens). For each round a fresh period.
Marelle: `POST /api/v1/tickets/reservations` (Idempotency-Key) with the D first opening days of
the period, « journee », `prendre_le_reste`; decided in arrival order per period by booking.
Bare: `bare_baseline.py`, D conditional UPDATEs + D INSERTs in one transaction per request.

Reported as in rush.py (throughput, p50/p99, errors, final, drain, outbox backlog, CPU per
request per process, ratio). Invariants that FAIL the run: no group × day × unit over capacity;
every acknowledged request decided once with one outcome per day asked; per day, the M first
positions got the places; decisions in position order.

    .venv/bin/python bench/booking_rush.py                          # 10,000 families, 500 places
    .venv/bin/python bench/booking_rush.py --families 500 --places 50 --days 5 --save-as booking_rush_small
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import random
import sys
import time
import uuid
from collections import Counter
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
    Sampler,
    booking_calendar_body,
    md_table,
    plain,
    profile_markdown,
    run_scenario,
    save,
    say,
    start_bare,
)
from rush import add_load_arguments, drive, follow_sample, load_summary  # noqa: E402

BOOKING_TOPIC = "marelle.booking.v1"
LAG_GROUPS = {"billing": "billing.booking-events"}


async def seed_period(url: str, families: int, start: date, end: date, label: str
                      ) -> dict[str, Any]:
    """A period and N children with a validated registration, in booking's copies."""
    conn = await asyncpg.connect(plain(url))
    period_id, group_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    groups = json.dumps([{"group_id": str(group_id), "label": "6-8 ans", "min_age": 3,
                          "max_age": 17, "capacity": families, "closed": False}])
    try:
        await conn.execute(
            "INSERT INTO period_copy (period_id, facility_name, activity_type_name, activity_name,"
            " label, start_date, end_date, closed, groups, revision, updated_at, version)"
            " VALUES ($1, 'CENTRE DE LOISIRS BANC', 'Vacances', 'ÉTÉ', $2, $3, $4, false, $5, 1,"
            " $6, 1)", period_id, label, start, end, groups, now)
        rows = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), period_id, group_id, start, end, now)
                for _ in range(families)]
        await conn.executemany(
            "INSERT INTO registration_copy (registration_id, child_id, family_id, period_id,"
            " group_id, facility_name, activity_name, period_label, group_label, start_date,"
            " end_date, status, typical_week, revision, updated_at, version, memo) VALUES"
            " ($1, $2, $3, $4, $5, 'CENTRE DE LOISIRS BANC', 'ÉTÉ', 'Banc', '6-8 ans', $6, $7,"
            " 'validee', '[]', 1, $8, 1, '')", rows)
        await conn.executemany(
            "INSERT INTO child_copy (child_id, family_id, first_name, last_name, birth_date,"
            " revision, source_event_id, updated_at, version) VALUES ($1, $2, 'Enfant', 'Banc',"
            " '2018-01-01', 1, $3, $4, 1)", [(r[1], r[2], uuid.uuid4(), now) for r in rows])
    finally:
        await conn.close()
    return {"period_id": period_id, "group_id": group_id,
            "registrations": [(r[0], r[1], r[2]) for r in rows]}


async def outcomes(url: str, period_id: uuid.UUID, days: list[date], places: int,
                   results: list[Any]) -> dict[str, Any]:
    conn = await asyncpg.connect(plain(url))
    try:
        tickets = await conn.fetch("SELECT id, position, status, decided_at, outcomes, child_id "
                                   "FROM queue_ticket WHERE resource_id = $1 ORDER BY position",
                                   period_id)
        reservations = await conn.fetch("SELECT child_id, day, unit, status, seq FROM reservation "
                                        "WHERE period_id = $1", period_id)
        over = await conn.fetchval("SELECT count(*) FROM day_slot WHERE period_id = $1 AND "
                                   "booked > capacity", period_id)
    finally:
        await conn.close()
    accepted = {s.body["id"] for s in results if s.status in (200, 202) and "id" in s.body}
    problems = []
    if over:
        problems.append(f"{over} group × day × unit over capacity")
    reserved = Counter((r["day"], r["unit"]) for r in reservations if r["status"] == "reservee")
    if any(n > places for n in reserved.values()):
        problems.append("more reservations than places on some day")
    if len(tickets) != len(accepted) or any(str(t["id"]) not in accepted for t in tickets):
        problems.append(f"{len(tickets)} tickets in the database for {len(accepted)} acknowledged")
    undecided = sum(1 for t in tickets if t["status"] != "traite")
    if undecided:
        problems.append(f"{undecided} tickets not decided")
    wrong = sum(1 for t in tickets if len(json.loads(t["outcomes"])) != len(days))
    if wrong:
        problems.append(f"{wrong} tickets without one outcome per day asked")
    by_child_day = {(r["child_id"], r["day"]): r for r in reservations if r["unit"] == "journee"
                    and r["status"] in ("reservee", "liste_attente")}
    first = {t["child_id"] for t in tickets[:places]}
    for day in days:
        got = {c for (c, d), r in by_child_day.items() if d == day and r["status"] == "reservee"}
        if got != first:
            problems.append(f"{day}: the places did not go to the {places} first positions")
            break
    decided = [t["decided_at"] for t in tickets]
    if any(a and b and b < a for a, b in zip(decided, decided[1:])):
        problems.append("decisions out of position order (decided_at)")
    last = max((d for d in decided if d), default=None)
    return {"tickets": len(tickets), "reserved_per_day_unit_max": max(reserved.values(), default=0),
            "reservations": dict(Counter(r["status"] for r in reservations)),
            "last_decided_wall": last.timestamp() if last else None,
            "decided_walls": sorted(d.timestamp() for d in decided if d), "problems": problems}


async def scenario(run: Run, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    consumers = [c for c in args.consumers.split(",") if c]
    stack = run.stack(kafka=True)
    await stack.start(["booking", *consumers], gateway=True)
    openapi = httpx.get(stack.url("gateway") + "/api/v1/openapi.json", timeout=30).json()
    if "/api/v1/tickets/reservations" not in openapi.get("paths", {}):
        raise SystemExit("the gateway has no POST /api/v1/tickets/reservations yet")
    db = stack.databases["booking"]
    today = date.today()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    start, end = first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    from bare_baseline import counts

    bare_db, bare = await start_bare(run)
    staff = run.tokens.staff()

    rounds = []
    modes = [m for m in args.modes.split(",") if m]
    # The profile is taken in a pair of its own, after the judged ones and outside the ratio
    # (py-spy takes CPU from the same two cores; see rush.py).
    for k, mode in enumerate(modes + ([] if args.no_profile else ["profiled"])):
        profiled = mode == "profiled"
        mode = "closed" if profiled else mode
        # Bare: D capacities of M places.
        groups = [uuid.uuid4() for _ in range(args.days)]
        conn = await asyncpg.connect(bare_db)
        await conn.executemany("INSERT INTO bare_group (id, capacity) VALUES ($1, $2)",
                               [(g, args.places) for g in groups])
        await conn.close()
        pairs = [(uuid.uuid4(), uuid.uuid4()) for _ in range(args.families)]

        async def bare_request(client: Any, i: int) -> Any:
            return await client.post(bare.url + "/inscriptions", json={
                "family_id": str(pairs[i][0]), "child_id": str(pairs[i][1]),
                "group_ids": [str(g) for g in groups]})

        meter = CpuMeter([bare], run.infra).start()
        results = await drive(bare_request, args, mode)
        cpu = meter.stop()
        b = load_summary(results, (201,), mode == "open")
        per_group = [await counts(bare_db, g) for g in groups]
        b["outcomes"] = per_group[0]
        b["problems"] = ([f"over capacity: {per_group}"]
                         if any(c["booked"] > args.places for c in per_group) else [])
        b["cpu_ms_per_request"] = {k_: round(v * 1000 / len(results), 3) for k_, v in cpu.items()}
        say(f"bare {mode}: {b['requests_per_s']} req/s, {b['latency_ms']}")

        # Marelle.
        data = await seed_period(db, args.families, start, end, f"Ouverture {k + 1}")
        async with httpx.AsyncClient(base_url=stack.url("booking"), timeout=120) as client:
            r = await client.put(f"/staff/calendars/{data['period_id']}", headers=staff,
                                 json=booking_calendar_body(data["group_id"], args.places))
            r.raise_for_status()
            opening = [date.fromisoformat(d) for d in r.json()["opening_days"]]
        days = opening[:args.days]
        regs = data["registrations"]
        headers = [run.tokens.parent(fam) for _, _, fam in regs]
        keys = [f"booking-{k}-{uuid.uuid4().hex[:16]}" for _ in regs]
        path = stack.url("gateway") + "/api/v1/tickets/reservations"
        body_days = [{"date": d.isoformat(), "unit": "journee"} for d in days]

        async def request(client: Any, i: int) -> Any:
            return await client.post(path, headers={**headers[i], "Idempotency-Key": keys[i]},
                                     json={"registration_id": str(regs[i][0]), "days": body_days,
                                           "if_some_full": "prendre_le_reste"})

        sampler = Sampler(lags={c: (LAG_GROUPS[c], BOOKING_TOPIC) for c in consumers
                                if c in LAG_GROUPS},
                          outboxes={"booking": db}, kafka=run.infra.kafka, interval=0.5).start()
        statements = QueryCounter(run.infra, db) if run.infra.stat_statements else None
        if statements is not None:
            await statements.reset()
        meter = CpuMeter(stack.procs.values(), run.infra).start()
        spy = (Profile(stack.procs["booking"], run.workdir / f"booking-{mode}.spy").start()
               if profiled else None)
        results = await drive(request, args, mode)
        m = load_summary(results, (200, 202), mode == "open")
        say(f"marelle {mode}: {m['requests_per_s']} req/s, {m['latency_ms']}, errors "
            f"{m['errors_by_status']}")
        accepted = [s for s in results if s.status in (200, 202) and "id" in s.body]
        deadline = time.monotonic() + args.final_timeout
        async with httpx.AsyncClient(timeout=30) as client:
            follow = asyncio.create_task(follow_sample(
                client, [(s.body["id"], headers[s.index])
                         for s in random.sample(accepted, min(args.sample, len(accepted)))],
                path, deadline))
            while time.monotonic() < deadline:
                conn = await asyncpg.connect(plain(db))
                left = await conn.fetchval("SELECT count(*) FROM queue_ticket WHERE resource_id"
                                           " = $1 AND status = 'en_file'", data["period_id"])
                await conn.close()
                if left == 0:
                    break
                stack.check_alive()
                await asyncio.sleep(0.2)
            m["followed_sample"] = await follow
        top = spy.stop() if spy else None
        cpu = meter.stop()
        await asyncio.sleep(2)
        await sampler.stop()
        o = await outcomes(db, data["period_id"], days, args.places, results)
        m["problems"] = o.pop("problems")
        walls = o.pop("decided_walls")
        # How far the decisions kept up: decided by the last submission, and their pace after.
        m["decided_by_last_submit"] = sum(1 for w in walls if w <= m["last_submit_wall"])
        m["outcomes"] = o
        if o["last_decided_wall"]:
            m["seconds_until_every_outcome_final"] = round(o["last_decided_wall"]
                                                           - m["first_submit_wall"], 2)
            m["drain_seconds"] = round(o["last_decided_wall"] - m["last_submit_wall"], 2)
        m["cpu_ms_per_request"] = {k_: round(v * 1000 / len(results), 3) for k_, v in cpu.items()}
        m["sampled"] = sampler.summary()
        if statements is not None:
            # Where PostgreSQL's time goes: booking's statements by total execution time.
            read = await statements.read()
            m["statements_by_time"] = sorted(
                read["top_all_timed"], key=lambda r: -r["ms"])[:10]
        if top is not None:
            m["profile"] = top
        say(f"marelle {mode}: final after {m.get('seconds_until_every_outcome_final')} s, "
            f"problems {m['problems']}")
        rounds.append({"mode": mode, "days": [d.isoformat() for d in days], "bare": b,
                       "marelle": m, "profiled": profiled,
                       "ratio_throughput": round(m["requests_per_s"] / b["requests_per_s"], 3)})

    load_after = os.getloadavg()
    problems = [f"{r['mode']}/{side}: {p}" for r in rounds for side in ("bare", "marelle")
                for p in r[side]["problems"]]
    # A mode run several times is judged on the median of its pairs (see rush.py).
    medians = {mode: statistics.median(r["ratio_throughput"] for r in rounds
                                       if r["mode"] == mode and not r["profiled"])
               for mode in dict.fromkeys(r["mode"] for r in rounds if not r["profiled"])}
    result = {"families": args.families, "places": args.places, "days": args.days,
              "concurrency": args.concurrency, "rate": args.rate, "rounds": rounds,
              "ratio_throughput_median": medians,
              "invariants": "held" if not problems else problems,
              "load_average_before": load_before, "load_average_after": load_after}
    rows = [(f"{r['mode']} loop" + (" (py-spy, not judged)" if r["profiled"] else ""), side,
             r[side]["requests_per_s"],
             r[side]["latency_ms"].get("p50"), r[side]["latency_ms"].get("p99"),
             r[side]["errors_by_status"] or 0, r[side].get("seconds_until_every_outcome_final",
                                                           "—"),
             r[side].get("drain_seconds", "—"),
             ", ".join(f"{k} {v}" for k, v in r[side]["cpu_ms_per_request"].items() if v >= 0.05))
            for r in rounds for side in ("bare", "marelle")]
    summary = (
        f"{args.families:,} families × {args.days} days of one period, {args.places} places per "
        f"group × day; closed loop {args.concurrency} in flight, open loop {args.rate:g}/s. Load "
        f"average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}.\n\n"
        + md_table(["round", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "final after (s)",
                    "drain (s)", "CPU ms / request"], rows)
        + "\n\nRatio Marelle / bare: " + ", ".join(
            f"{r['mode']}{' (profiled, not judged)' if r['profiled'] else ''} "
            f"{r['ratio_throughput']}" for r in rounds)
        + "; median per mode: " + ", ".join(f"{mode} **{v}**" for mode, v in medians.items())
        + f". Invariants: {'held' if not problems else '; '.join(problems)}.\n\n"
        + profile_markdown("Where booking's time goes during the profiled pair",
                           next((r["marelle"].get("profile", {}) for r in rounds
                                 if r["profiled"]), {})))
    save(args.save_as or "booking_rush", result, summary)
    if problems:
        raise SystemExit("invariants violated: " + "; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(parser, 10_000, 500)
    parser.add_argument("--days", type=int, default=5)
    parser.set_defaults(consumers="")
    args = parser.parse_args()
    run_scenario(scenario, args)


if __name__ == "__main__":
    main()
