"""Scenario « events »: a real service consumer with its idempotent inbox draining 100,000
pre-filled events, against raw aiokafka `getmany` + asyncpg batch inserts of the same rows.

Pre-fill (not measured): `--events` distinct `identity.family_created` events (one household,
one child each, household version 1), plus `--duplicates` redeliveries of some of them (same
event_id: what a producer retry or a relay crash produces), on a fresh `marelle.identity.v1`
topic (3 partitions, key = household), as identity's outbox relay would publish them.

Measured, each from its process's start to the last row applied (both are started after the
pre-fill; alternating: the raw consumer, then Marelle; `--repeat` pairs, 3 by default, each into
fresh databases, Marelle's consumer group rewound to the topic's start between pairs; the ratio
judged is the median of the pairs, this machine's speed drifting within minutes):
1. raw: a process (`events.py raw`, aiokafka `getmany` up to 5,000 records, one asyncpg
   transaction per batch: inbox rows `ON CONFLICT DO NOTHING RETURNING`, then the new households
   and children with `INSERT … SELECT FROM unnest(…)`, then the offsets committed), into a
   second migrated enrolment database: the same rows as Marelle;
2. Marelle: enrolment (`python -m marelle_enrolment serve`), whose consumer
   `enrolment.identity-events` is a batch subscriber (chassis `subscribe(..., batch=True)`:
   FastStream `getmany` up to 5,000 records, fetched 4 MiB per partition at a time as raw
   does): each record's envelope and payload are
   validated (pydantic, one pass from the JSON when the record's `event_type` header names
   the type) and its topic ownership checked one by one, then the batch is applied in chunks
   of 500, each ONE unit of work (`EventDispatcher.apply`, the next chunk read meanwhile): the
   event ids claimed in the inbox with one `INSERT … SELECT FROM unnest(ids) ON CONFLICT DO
   NOTHING RETURNING`, the `family_created` copies written with one `INSERT … SELECT FROM
   json_to_recordset(<the rows as one JSON parameter>) ON CONFLICT DO UPDATE … WHERE version <
   excluded.version` per table (children, households; reviews when needed) and the names with
   one `UPDATE … FROM unnest(…)`, one commit; the offsets committed once per batch. A batch
   failing deterministically would be replayed event by event (one unit of work and retries
   each, the culprit alone to the DLQ); none does here. The service freezes its startup heap
   out of the garbage collector and collects the youngest generation every 10,000
   allocations (chassis `freeze_startup_heap`). What Marelle still does that raw does not: pydantic
   validation of every envelope and payload, the ownership check, the version rules, SQLAlchemy
   sessions, FastStream's consume loop; and the service's own start-up (imports, app, group
   join) counts in "from start".

Checks that fail the run: every event applied exactly once in both databases (N inbox rows,
N households, N children, every copy at revision 1), consumer lag 0, nothing parked in the DLQ.

    .venv/bin/python bench/events.py                      # fresh PostgreSQL and Kafka
    .venv/bin/python bench/events.py --events 2000        # a quick try
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.errors import GroupCoordinatorNotAvailableError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    ROOT,
    CpuMeter,
    KafkaLag,
    Proc,
    Profile,
    Run,
    Sampler,
    common_arguments,
    free_port,
    md_table,
    plain,
    profile_markdown,
    run_scenario,
    save,
    say,
)

TOPIC = "marelle.identity.v1"
CONSUMER = "enrolment.identity-events"
RAW_GROUP = "bench.raw-consumer"


def envelope_bytes(i: int, family_id: uuid.UUID, child_id: uuid.UUID) -> tuple[bytes, bytes,
                                                                              list[tuple[str, bytes]]]:
    from marelle_contracts import Envelope
    from marelle_contracts.identity import ChildFacts, FamilyCreated
    from marelle_contracts.registry import spec_for_model

    payload = FamilyCreated(
        family_id=family_id, name=f"Famille Banc {i}", email=f"famille.{i}@example.org",
        children=[ChildFacts(child_id=child_id, first_name=f"Enfant{i}", last_name="Banc",
                             birth_date=date(2016, 1, 1) + timedelta(days=i % 2000))])
    spec = spec_for_model(FamilyCreated)
    event_id = uuid.uuid4()
    envelope = Envelope(event_id=event_id, event_type=spec.event_type,
                        schema_version=spec.schema_version, occurred_at=datetime.now(UTC),
                        producer="identity", correlation_id=str(event_id), key=str(family_id),
                        aggregate_version=1, payload=payload.model_dump(mode="json"))
    headers = [("event_id", str(event_id).encode()), ("event_type", spec.event_type.encode()),
               ("schema_version", str(spec.schema_version).encode()),
               ("producer", b"identity"), ("correlation_id", str(event_id).encode()),
               ("content-type", b"application/json")]
    return str(family_id).encode(), envelope.model_dump_json().encode(), headers


async def prefill(kafka: str, events: int, duplicates: int) -> int:
    """Publish the events (and the redeliveries, spread over the topic); returns the total."""
    from aiokafka import AIOKafkaProducer

    from marelle_chassis.messaging import ensure_topics
    from marelle_contracts import Topics

    await ensure_topics(kafka, Topics.all())
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=20,
                                max_batch_size=1 << 20, compression_type=None)
    await producer.start()
    try:
        records = [envelope_bytes(i, uuid.uuid4(), uuid.uuid4()) for i in range(events)]
        step = max(events // max(duplicates, 1), 1)
        # A redelivery comes after the original, later in the same partition (same key).
        order = list(records)
        for k in range(duplicates):
            order.insert(min(len(order), (k + 1) * step + k + 1), records[(k * step) % events])
        pending = []
        for key, value, headers in order:
            pending.append(await producer.send(TOPIC, value, key=key, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        return len(order)
    finally:
        await producer.stop()


# ------------------------------------------------------------------------------------ raw consumer

async def raw_consumer(kafka: str, database: str, expect: int, group: str, report: str) -> None:
    """The baseline: getmany + one asyncpg transaction of batch inserts per batch."""
    from aiokafka import AIOKafkaConsumer

    pool = await asyncpg.create_pool(plain(database), min_size=1, max_size=2)
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=kafka, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 << 20, fetch_max_bytes=16 << 20)
    await consumer.start()
    seen = 0
    try:
        while seen < expect:
            # As many records at a time as Marelle's consumers take (chassis `subscribe`).
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            seen += len(records)
            envelopes = [json.loads(r.value) for r in records]
            now = datetime.now(UTC)
            async with pool.acquire() as conn, conn.transaction():
                fresh = {r["event_id"] for r in await conn.fetch(
                    "INSERT INTO inbox_message (consumer, event_id, processed_at) "
                    "SELECT $1, e, $3 FROM unnest($2::uuid[]) e ON CONFLICT DO NOTHING "
                    "RETURNING event_id", CONSUMER,
                    [uuid.UUID(e["event_id"]) for e in envelopes], now)}
                families, children = [], []
                for e in envelopes:
                    event_id = uuid.UUID(e["event_id"])
                    if event_id not in fresh:
                        continue
                    fresh.discard(event_id)  # a duplicate within the batch
                    p = e["payload"]
                    families.append((uuid.UUID(p["family_id"]), p["name"], p["email"]))
                    for c in p["children"]:
                        children.append((uuid.UUID(c["child_id"]), uuid.UUID(p["family_id"]),
                                         c["first_name"], c["last_name"],
                                         date.fromisoformat(c["birth_date"]), event_id))
                if families:
                    await conn.execute(
                        "INSERT INTO family_copy (family_id, name, email, guardian_phones,"
                        " revision, updated_at, version, email_version)"
                        " SELECT f, n, m, '[]', 1, $4, 1, 1"
                        " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(f, n, m)"
                        " ON CONFLICT DO NOTHING",
                        [f[0] for f in families], [f[1] for f in families],
                        [f[2] for f in families], now)
                if children:
                    await conn.execute(
                        "INSERT INTO child_copy (child_id, family_id, first_name, last_name,"
                        " birth_date, revision, source_event_id, updated_at, version)"
                        " SELECT c, f, fn, ln, b, 1, s, $7, 1 FROM unnest($1::uuid[],"
                        " $2::uuid[], $3::text[], $4::text[], $5::date[], $6::uuid[])"
                        " AS t(c, f, fn, ln, b, s) ON CONFLICT DO NOTHING",
                        *[[c[k] for c in children] for k in range(6)], now)
            await consumer.commit()
    finally:
        await consumer.stop()
        await pool.close()
        # Read by the scenario: this process is gone before it could read /proc.
        times = os.times()
        Path(report).write_text(json.dumps({"cpu_seconds": times.user + times.system}))


# ------------------------------------------------------------------------------------ checks

async def applied(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(plain(url))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM inbox_message WHERE consumer = $1) AS inbox,"
            " (SELECT count(*) FROM family_copy) AS families,"
            " (SELECT count(*) FROM child_copy) AS children,"
            " (SELECT count(*) FROM child_copy WHERE revision <> 1) AS children_reapplied,"
            " (SELECT count(*) FROM family_copy WHERE revision <> 1) AS families_reapplied,"
            " (SELECT min(processed_at) FROM inbox_message WHERE consumer = $1) AS first_at,"
            " (SELECT max(processed_at) FROM inbox_message WHERE consumer = $1) AS last_at",
            CONSUMER)
        return dict(row)
    finally:
        await conn.close()


async def dlq_count(kafka: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(TOPIC + ".dlq") or set()
        ends = await consumer.end_offsets([TopicPartition(TOPIC + ".dlq", p) for p in parts])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def wait_applied(url: str, proc: Proc, events: int, lag: KafkaLag, group: str,
                       timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive() and not proc.name.startswith("raw"):  # raw exits when done
            raise RuntimeError(f"{proc.name} stopped; see {proc.log_path}")
        # The lag first (cheap, asks Kafka); the counts only once it is 0: polling the
        # database while it works would take CPU from the consumer measured.
        try:
            caught_up = await lag.lag(group, TOPIC) == 0
        except GroupCoordinatorNotAvailableError:
            caught_up = False  # a fresh broker: its offsets topic is still being created
        if caught_up:
            state = await applied(url)
            if state["inbox"] >= events:
                return state
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{proc.name}: not every event applied within {timeout}s")


# ------------------------------------------------------------------------------------ scenario

async def rewind(kafka: str, group: str) -> None:
    """Set `group`'s committed offsets back to the start of the topic (its member stopped), so
    that the next round's fresh database gets every event again."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
        consumer.assign(parts)
        await consumer.commit({tp: 0 for tp in parts})
    finally:
        await consumer.stop()


async def migrated_database(run: Run, name: str) -> str:
    url = await run.infra.create_database(name)
    env = {**os.environ, "ENROLMENT_DATABASE_URL": url, "ENROLMENT_KAFKA_ENABLED": "false"}
    subprocess.run([sys.executable, "-m", "marelle_enrolment", "migrate"], env=env, cwd=ROOT,
                   check=True, stdout=(run.workdir / "migrate.log").open("ab"),
                   stderr=subprocess.STDOUT)
    return url


async def one_pair(run: Run, args: argparse.Namespace, k: int, total: int,
                   lag: KafkaLag) -> dict[str, Any]:
    """Round k: the raw consumer (its own group), then Marelle (enrolment's group, rewound
    after), each into a fresh migrated database."""
    infra = run.infra
    raw_db = await migrated_database(run, f"bench_events_raw_{k}")
    marelle_db = await migrated_database(run, f"bench_enrolment_{k}")
    stack = run.stack(kafka=True)
    stack.databases["enrolment"] = marelle_db
    results: dict[str, Any] = {}
    group = f"{RAW_GROUP}-{k}"
    raw = Proc(f"raw-{k}", [sys.executable, str(Path(__file__).resolve()), "raw", "--kafka",
                            infra.kafka, "--to", raw_db, "--expect", str(total), "--group",
                            group, "--report", str(run.workdir / f"raw-{k}.json")],
               dict(os.environ), free_port(), run.workdir / f"raw-{k}.log")
    run.procs.append(raw)
    meter = CpuMeter([], infra).start()
    raw.start()
    said = time.perf_counter()
    state = await wait_applied(raw_db, raw, args.events, lag, group, args.timeout)
    wall = time.perf_counter() - said
    assert raw.popen is not None
    raw.popen.wait(60)
    raw_cpu = json.loads((run.workdir / f"raw-{k}.json").read_text())["cpu_seconds"]
    results["raw"] = summarise("raw", state, raw.started_wall, wall, raw_cpu, meter.stop(),
                               args.events)
    say(f"round {k + 1}, raw: {results['raw']['seconds_from_start']} s from start")

    ports = {"enrolment": free_port()}
    proc = Proc("enrolment", [sys.executable, "-m", "marelle_enrolment", "serve",
                              "--no-migrate"], stack.env_for("enrolment", ports),
                ports["enrolment"], run.workdir / f"enrolment-{k}.log")
    stack.procs["enrolment"] = proc
    meter = CpuMeter([], infra).start()
    sampler = Sampler(lags={"enrolment": (CONSUMER, TOPIC)}, kafka=infra.kafka,
                      interval=1.0).start()
    proc.start()
    said = time.perf_counter()
    try:
        await proc.wait_ready()
        profile = (None if args.no_profile or k
                   else Profile(proc, run.workdir / "enrolment.spy").start())
        state = await wait_applied(marelle_db, proc, args.events, lag, CONSUMER, args.timeout)
        wall = time.perf_counter() - said
        top = profile.stop() if profile else {}
        marelle_cpu = proc.cpu()
        infra_cpu = meter.stop()
        await sampler.stop()
    finally:
        stack.stop()
    await rewind(infra.kafka, CONSUMER)
    results["marelle"] = summarise("marelle", state, proc.started_wall, wall, marelle_cpu,
                                   infra_cpu, args.events)
    results["marelle"]["lag"] = sampler.summary()
    results["marelle"]["lag_samples"] = sampler.samples[::max(len(sampler.samples) // 60, 1)]
    results["profile_marelle"] = top
    r, m = results["raw"], results["marelle"]
    results["ratio_throughput"] = round(r["seconds_from_start"] / m["seconds_from_start"], 4)
    results["ratio_throughput_steady"] = round(r["seconds_applying"] / m["seconds_applying"], 4)
    say(f"round {k + 1}, marelle: {m['seconds_from_start']} s from start, ratio "
        f"{results['ratio_throughput']}")
    return results


async def scenario(run: Run, args: argparse.Namespace) -> None:
    infra = run.infra
    load_before = os.getloadavg()
    say(f"pre-filling {args.events} events (+{args.duplicates} redeliveries) on {TOPIC}")
    t = time.perf_counter()
    total = await prefill(infra.kafka, args.events, args.duplicates)
    say(f"pre-filled {total} records in {time.perf_counter() - t:.1f} s")

    lag = KafkaLag(infra.kafka)
    await lag.start()
    rounds = []
    try:
        for k in range(args.repeat):
            rounds.append(await one_pair(run, args, k, total, lag))
    finally:
        await lag.stop()
    dlq = await dlq_count(infra.kafka)
    load_after = os.getloadavg()

    problems = []
    for k, pair in enumerate(rounds):
        for name in ("raw", "marelle"):
            c = pair[name]["check"]
            if not (c["inbox"] == c["families"] == c["children"] == args.events):
                problems.append(f"{name} (round {k + 1}): {c['inbox']} inbox rows, "
                                f"{c['families']} households, {c['children']} children for "
                                f"{args.events} events")
            if c["children_reapplied"] or c["families_reapplied"]:
                problems.append(f"{name} (round {k + 1}): copies applied more than once")
    if dlq:
        problems.append(f"{dlq} events parked in the DLQ")
    # This machine's speed drifts within minutes: the ratio is the median of the pairs, and
    # the pair shown in detail is the median one.
    ratios = [p["ratio_throughput"] for p in rounds]
    median = statistics.median(ratios)
    shown = min(rounds, key=lambda p: abs(p["ratio_throughput"] - median))
    r, m = shown["raw"], shown["marelle"]
    result = {
        "events": args.events, "redeliveries": args.duplicates, "records": total,
        "raw": r, "marelle": m, "ratio_throughput": median, "ratios": ratios,
        "ratio_throughput_steady": statistics.median(p["ratio_throughput_steady"]
                                                     for p in rounds),
        "rounds": [{k: v for k, v in p.items() if k != "profile_marelle"} for p in rounds],
        "dlq": dlq, "invariants": "held" if not problems else problems,
        "load_average_before": load_before, "load_average_after": load_after,
        "profile_marelle": rounds[0]["profile_marelle"] if rounds else {},
    }
    summary = (
        f"{args.events:,} `identity.family_created` events (+{args.duplicates:,} redeliveries, "
        f"same event_id) pre-filled on `{TOPIC}` (3 partitions). Each consumer is a fresh "
        f"process into a fresh database, timed from its start to the last row applied (and lag "
        f"0); {len(rounds)} pairs, raw then Marelle. Load average before/after: "
        f"{load_before[0]:.1f} / {load_after[0]:.1f} (2 cores shared with other work).\n\n"
        + md_table(["round", "consumer", "start → last applied", "applying (first → last)",
                    "events/s", "consumer CPU / event", "PostgreSQL CPU / event", "ratio"],
                   [(k + 1, n, f"{p['seconds_from_start']} s", f"{p['seconds_applying']} s",
                     p["events_per_s"], f"{p['cpu_ms_per_event']} ms",
                     f"{p.get('postgresql_cpu_ms_per_event', '—')} ms",
                     pair["ratio_throughput"] if n.startswith("Marelle") else "")
                    for k, pair in enumerate(rounds)
                    for n, p in (("raw getmany + asyncpg batch", pair["raw"]),
                                 ("Marelle (enrolment's consumer, inbox)", pair["marelle"]))])
        + f"\n\nRatio Marelle / raw (throughput, from start), median of the pairs: "
        f"**{median}** ({', '.join(str(x) for x in ratios)}; target ≥ 0.5); while applying: "
        f"{result['ratio_throughput_steady']}. Max consumer lag sampled (median pair): "
        f"{m['lag'].get('lag:enrolment', {}).get('max', '?')}. DLQ: {dlq}. "
        f"Invariants: {'held' if not problems else '; '.join(problems)}.\n\n"
        + profile_markdown("Where enrolment's time goes while consuming (first pair)",
                           result["profile_marelle"]))
    save(args.save_as or "events", result, summary)
    if problems:
        raise SystemExit("invariants violated: " + "; ".join(problems))


def summarise(name: str, state: dict[str, Any], started_wall: float, wall: float, cpu: float,
              infra_cpu: dict[str, float], events: int) -> dict[str, Any]:
    first = state["first_at"].timestamp()
    last = state["last_at"].timestamp()
    out = {"seconds_from_start": round(last - started_wall, 2),
           "seconds_to_ready_first_row": round(first - started_wall, 2),
           "seconds_applying": round(last - first, 2),
           "seconds_until_lag_0_seen": round(wall, 2),
           "events_per_s": round(events / max(last - started_wall, 1e-9)),
           "cpu_seconds": round(cpu, 2), "cpu_ms_per_event": round(cpu * 1000 / events, 3),
           "check": {k: v for k, v in state.items() if not k.endswith("_at")}}
    for k, v in infra_cpu.items():
        out[f"{k}_cpu_ms_per_event"] = round(v * 1000 / events, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    raw = sub.add_parser("raw", help="(internal) the raw consumer process")
    raw.add_argument("--kafka", required=True)
    raw.add_argument("--to", required=True)
    raw.add_argument("--expect", type=int, required=True)
    raw.add_argument("--group", default=RAW_GROUP)
    raw.add_argument("--report", required=True)
    common_arguments(parser)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--duplicates", type=int, default=1_000,
                        help="redeliveries of already published events (same event_id)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--repeat", type=int, default=3,
                        help="pairs (raw, then Marelle), each into fresh databases; the ratio "
                             "is their median")
    args = parser.parse_args()
    if args.command == "raw":
        asyncio.run(raw_consumer(args.kafka, args.to, args.expect, args.group, args.report))
        return
    if args.kafka:
        # The events go on marelle.identity.v1, which enrolment reads: on a shared broker every
        # other consumer of that topic would get 100,000 households.
        parser.error("events.py needs its own broker: leave --kafka out")
    run_scenario(scenario, args)


if __name__ == "__main__":
    main()
