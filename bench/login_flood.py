"""Login flood benchmark: does a burst of logins (Argon2) slow down everything else?

Starts identity as a real process (`python -m marelle_identity serve`, uvicorn, as the launcher
does; a fresh SQLite file or a fresh PostgreSQL database, no Kafka, no mail) and talks to it over
real HTTP on 127.0.0.1. Two phases, in the same run:

1. baseline: `--reads` cheap reads (`--path`, `/.well-known/jwks.json` by default) alone, at most
   `--read-concurrency` in flight;
2. flood: `--clients` concurrent clients log in (POST /auth/token, each with its own account),
   at most `--logins` logins and `--max-seconds` seconds, while the same reads run (as long as
   the flood lasts, `--reads` at most).

Reports throughput and latencies (p50/p95) of the reads in both phases and their ratios, the
logins' throughput and latencies, and the identity process's CPU time per operation (from
/proc/<pid>/stat). If Argon2 ran on the event loop, every read queued behind it would wait for
whole hashes (~0.1-0.25 s each): the read latency ratio shows it.

`--argon2-on-loop` starts identity with `asyncio.to_thread` replaced by a plain call (what the
code did before): the counterfactual, for comparison.

    .venv/bin/python bench/login_flood.py                                   # embedded SQLite
    .venv/bin/python bench/login_flood.py --database postgresql://postgres@127.0.0.1:PORT
    .venv/bin/python bench/login_flood.py --argon2-on-loop                  # counterfactual
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.infra import create_pg_database, free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
# The counterfactual: worker-thread calls made inline, on the event loop.
ON_LOOP_BOOT = """
import asyncio, runpy, sys
async def _inline(func, /, *args, **kwargs):
    return func(*args, **kwargs)
asyncio.to_thread = _inline
sys.argv = ["marelle_identity", "serve"]
runpy.run_module("marelle_identity", run_name="__main__", alter_sys=True)
"""
PASSWORD = "mot-de-passe-du-banc"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def stats(latencies: list[float], wall: float) -> dict[str, float]:
    return {"n": len(latencies), "rps": len(latencies) / wall if wall else 0.0,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
            "p95_ms": percentile(latencies, 0.95) * 1000, "wall_s": wall}


async def reads(client: httpx.AsyncClient, path: str, count: int, concurrency: int,
                until: asyncio.Task | None = None) -> list[float]:
    """`count` reads, `concurrency` at a time (stopping early once `until` is done)."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            if until is not None and until.done():
                return
            start = time.perf_counter()
            r = await client.get(path)
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text  # a cheap read never fails

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def flood(client: httpx.AsyncClient, emails: list[str], total: int, deadline: float
                ) -> tuple[list[float], int]:
    latencies: list[float] = []
    budget = iter(range(total))
    refused = 0

    async def login_client(i: int, email: str) -> None:
        nonlocal refused
        for _ in budget:
            if time.perf_counter() > deadline:
                return
            start = time.perf_counter()
            try:
                r = await client.post("/auth/token", json={"email": email, "password": PASSWORD},
                                      headers={"X-Client-IP": f"192.0.2.{i + 1}"})
            except httpx.TransportError:
                refused += 1
                continue
            if r.status_code != 200:  # 5xx (e.g. SQLite busy for 30 s), 429
                refused += 1
                continue
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(login_client(i, e) for i, e in enumerate(emails)))
    return latencies, refused


async def wait_live(base: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"identity exited with code {process.returncode}")
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("identity did not start in time")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="postgresql://user@host:port (a fresh database is made)")
    parser.add_argument("--path", default="/.well-known/jwks.json", help="the cheap read")
    parser.add_argument("--reads", type=int, default=2000,
                        help="reads per phase (the flood phase stops reading when it ends)")
    parser.add_argument("--read-concurrency", type=int, default=4)
    parser.add_argument("--clients", type=int, default=20, help="concurrent login clients")
    parser.add_argument("--logins", type=int, default=300, help="at most this many logins")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="flood time limit")
    parser.add_argument("--argon2-on-loop", action="store_true",
                        help="counterfactual: identity hashes on its event loop")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="login-flood-"))
    if args.database:
        url = await create_pg_database(args.database.rstrip("/"), "bench")
        label = "PostgreSQL"
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'identity.sqlite3'}"
        label = "SQLite"
    port = free_port()
    env = {**os.environ, "IDENTITY_DATABASE_URL": url, "IDENTITY_PORT": str(port),
           "IDENTITY_HOST": "127.0.0.1", "IDENTITY_KAFKA_ENABLED": "false",
           "IDENTITY_MAIL_ENABLED": "false", "IDENTITY_LOG_LEVEL": "WARNING",
           "PYTHONUNBUFFERED": "1"}
    log = (workdir / "identity.log").open("w")
    command = ([sys.executable, "-c", ON_LOOP_BOOT] if args.argon2_on_loop
               else [sys.executable, "-m", "marelle_identity", "serve"])
    process = subprocess.Popen(command, env=env,
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_live(base, process)
        limits = httpx.Limits(max_connections=args.clients + args.read_concurrency + 4)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            emails = [f"banc{i}@example.org" for i in range(args.clients)]
            for email in emails:  # one account per login client: no account throttling
                r = await client.post("/auth/signup", json={
                    "family_name": f"Famille {email}", "email": email, "password": PASSWORD,
                    "guardian": {"first_name": "Banc", "last_name": "Essai"}})
                assert r.status_code == 201, r.text
            await reads(client, args.path, 100, args.read_concurrency)  # warm-up

            cpu0, t0 = cpu_seconds(process.pid), time.perf_counter()
            base_lat = await reads(client, args.path, args.reads, args.read_concurrency)
            baseline = stats(base_lat, time.perf_counter() - t0)
            baseline_cpu = cpu_seconds(process.pid) - cpu0

            cpu0, t0 = cpu_seconds(process.pid), time.perf_counter()
            deadline = t0 + args.max_seconds
            flood_task = asyncio.create_task(flood(client, emails, args.logins, deadline))
            await asyncio.sleep(0.5)  # the flood is under way
            t1 = time.perf_counter()
            read_lat = await reads(client, args.path, args.reads, args.read_concurrency,
                                   until=flood_task)
            reads_wall = time.perf_counter() - t1
            login_lat, refused = await flood_task
            flood_wall = time.perf_counter() - t0
            flood_cpu = cpu_seconds(process.pid) - cpu0
            during = stats(read_lat, reads_wall)
            logins = stats(login_lat, flood_wall)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()

    read_cpu = baseline_cpu / baseline["n"]
    login_cpu = (flood_cpu - read_cpu * during["n"]) / max(1, logins["n"])
    label += ", Argon2 ON THE EVENT LOOP (counterfactual)" if args.argon2_on_loop else ""
    print(f"\nidentity ({label}), {os.cpu_count()} CPUs, reads = GET {args.path} "
          f"x{args.reads} ({args.read_concurrency} in flight), flood = {args.clients} login "
          f"clients\n")
    print(f"| phase | reads/s | read p50 | read p95 | logins/s | login p50 | login p95 "
          f"| identity CPU |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| reads alone | {baseline['rps']:.0f} | {baseline['p50_ms']:.1f} ms "
          f"| {baseline['p95_ms']:.1f} ms | - | - | - | {read_cpu * 1000:.2f} ms/read |")
    print(f"| reads + login flood | {during['rps']:.0f} | {during['p50_ms']:.1f} ms "
          f"| {during['p95_ms']:.1f} ms | {logins['rps']:.1f} | {logins['p50_ms']:.0f} ms "
          f"| {logins['p95_ms']:.0f} ms | {login_cpu * 1000:.0f} ms/login |")
    print(f"\nreads during the flood / alone: throughput {during['rps'] / baseline['rps']:.2f}, "
          f"p50 {during['p50_ms'] / baseline['p50_ms']:.2f}, "
          f"p95 {during['p95_ms'] / baseline['p95_ms']:.2f}")
    print(f"logins: {logins['n']} in {flood_wall:.1f} s ({refused} failed); identity CPU "
          f"{flood_cpu:.1f} s over {flood_wall:.1f} s = {flood_cpu / flood_wall:.2f} cores")
    from results_io import save

    name = "login_flood_" + ("postgresql" if args.database else "sqlite") + (
        "_argon2_on_loop" if args.argon2_on_loop else "")
    ratios = {"throughput": during["rps"] / baseline["rps"],
              "p50": during["p50_ms"] / baseline["p50_ms"],
              "p95": during["p95_ms"] / baseline["p95_ms"]}
    path = save(name, {
        "setup": label, "reads_alone": baseline, "reads_during_flood": during, "logins": logins,
        "logins_failed": refused, "ratios_during_vs_alone": ratios,
        "cpu_ms": {"per_read": read_cpu * 1000, "per_login": login_cpu * 1000}},
        f"Reads during a login flood / reads alone: throughput {ratios['throughput']:.2f}, "
        f"p50 ×{ratios['p50']:.2f}, p95 ×{ratios['p95']:.2f}; {logins['rps']:.1f} logins/s; "
        f"identity CPU {login_cpu * 1000:.0f} ms per login, {read_cpu * 1000:.2f} ms per read "
        f"({label}).")
    print(f"result: {path}")


if __name__ == "__main__":
    asyncio.run(main())
