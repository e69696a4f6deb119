"""Shared runtime of the scenarios (issue « The opening rush »): real processes over real HTTP.

- `Infra`: a fresh PostgreSQL (infra/postgres/pg.sh, own port and data dir under /tmp, with
  `pg_stat_statements` preloaded to count queries) and a fresh Kafka broker (infra/kafka/kafka.sh,
  own ports and data dir), unless `--database` / `--kafka` name existing ones.
- `Stack`: one database per service on that server, migrated; the services
  (`python -m marelle_<svc> serve`, uvicorn) and the gateway as separate processes, configured as
  infra/launcher.py does (`<SVC>_PORT`, `<SVC>_DATABASE_URL`, `<SVC>_<OTHER>_URL`…).
- Families are « logged in beforehand » by SIGNING their access tokens with a throwaway RSA key
  whose JWKS this script serves (as booking_typical_week.py does): every process verifies them
  as in production (`<SVC>_IDENTITY_URL` points at that JWKS). 10,000 real logins would cost
  ~40 min of Argon2 on this machine and measure identity, not the queue.
- Measures: CPU seconds of each process from /proc/<pid>/stat, latency percentiles, consumer lag
  and outbox backlog sampled in the background, query counts from pg_stat_statements, a py-spy
  profile of a process (top functions by own and total time).
- `save()`: JSON + Markdown under bench/results/ (results_io), with the machine's load.

Everything started here is stopped at the end, also on failure or Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from tests.support.scripts import script_line  # noqa: E402  (the fixtures' own reader)

TICKS = os.sysconf("SC_CLK_TCK")
DOMAIN = ("identity", "enrolment", "booking", "billing")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (utime + stime of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _tree_cpu(pid: int) -> float:
    """CPU of a process, its reaped children (cutime, cstime) and its live children."""
    fields = _stat(pid)
    ticks = sum(int(x) for x in fields[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                child = _stat(int(entry.name))
                if int(child[1]) == pid:
                    ticks += sum(int(x) for x in child[11:15])
    return ticks / TICKS


def plain(url: str) -> str:
    """asyncpg's URL from SQLAlchemy's."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ------------------------------------------------------------------------------------ statistics

def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    """Percentiles of latencies given in seconds, in milliseconds."""
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50": round(percentile(values, 50) * 1000, 1),
            "p95": round(percentile(values, 95) * 1000, 1),
            "p99": round(percentile(values, 99) * 1000, 1),
            "max": round(max(values) * 1000, 1), "mean": round(statistics.fmean(values) * 1000, 1)}


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ tokens

class Tokens:
    """Access tokens signed by a throwaway key; its JWKS is served on 127.0.0.1 for every process
    (they verify each token as in production: issuer, audience, expiry, signature)."""

    ISSUER, AUDIENCE, KID = "marelle-identity", "marelle", "bench-key"

    def __init__(self, ttl: int = 4 * 3600) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ttl = ttl
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": self.KID}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                # Only the JWKS: anything else asked of « identity » is unavailable (404).
                ok = self.path.split("?")[0].endswith("/jwks.json")
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if ok else 2))
                self.end_headers()
                self.wfile.write(body if ok else b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """What `<SVC>_IDENTITY_URL` is set to: `<url>/.well-known/jwks.json` is the JWKS."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.ISSUER, "aud": self.AUDIENCE, "iat": now,
                           "exp": now + self.ttl, **claims},
                          self.key, algorithm="RS256", headers={"kid": self.KID})

    def parent(self, family_id: uuid.UUID) -> dict[str, str]:
        token = self._sign({"sub": str(uuid.uuid4()), "kind": "parent",
                            "family_id": str(family_id), "sid": str(uuid.uuid4())})
        return {"Authorization": f"Bearer {token}"}

    def staff(self) -> dict[str, str]:
        token = self._sign({"sub": str(uuid.uuid4()), "kind": "staff",
                            "roles": ["administrator", "manager"], "email": "bench@marelle.local",
                            "name": "Banc d'essai", "sid": str(uuid.uuid4())})
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.server.shutdown()


# ------------------------------------------------------------------------------------ infra

class Infra:
    """PostgreSQL and Kafka for one run: fresh ones (stopped and deleted at the end) unless given."""

    def __init__(self, database: str | None = None, kafka: str | None = None,
                 need_kafka: bool = True) -> None:
        self.pg_url = database.rstrip("/") if database else ""
        self.kafka = kafka or ""
        self.need_kafka = need_kafka
        self._pg_dir: Path | None = None
        self._kafka_dir: Path | None = None
        self.stat_statements = False
        self.created: list[str] = []  # databases made on a server we did not start: dropped

    def start(self) -> None:
        if not self.pg_url:
            port = free_port()
            self._pg_dir = Path(f"/tmp/marelle-bench-pg-{port}")
            say(f"PostgreSQL: starting a fresh cluster on port {port} ({self._pg_dir})")
            self.pg_url = script_line(["bash", "infra/postgres/pg.sh", "start", "--port",
                                        str(port), "--dir", str(self._pg_dir), "--databases", ""],
                                       "MARELLE_PG_URL=", timeout=300).rstrip("/")
            # Query counts: pg_stat_statements must be preloaded, hence one restart.
            asyncio.run(self._sql("ALTER SYSTEM SET shared_preload_libraries = "
                                  "'pg_stat_statements'"))
            subprocess.run(["bash", "infra/postgres/pg.sh", "stop", "--dir", str(self._pg_dir)],
                           cwd=ROOT, check=True, capture_output=True, timeout=120)
            script_line(["bash", "infra/postgres/pg.sh", "start", "--dir", str(self._pg_dir),
                          "--databases", ""], "MARELLE_PG_URL=", timeout=300)
        try:
            asyncio.run(self._sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            asyncio.run(self._sql("SELECT count(*) FROM pg_stat_statements"))
            self.stat_statements = True
        except Exception as exc:  # an existing server without the library preloaded
            say(f"pg_stat_statements unavailable ({exc}): no query counts")
        if self.need_kafka and not self.kafka:
            port, controller = free_port(), free_port()
            self._kafka_dir = Path(tempfile.mkdtemp(prefix="marelle-bench-kafka-"))
            say(f"Kafka: starting a fresh broker on port {port} ({self._kafka_dir})")
            self.kafka = script_line(
                ["bash", "infra/kafka/kafka.sh", "start", "--port", str(port),
                 "--controller-port", str(controller), "--data-dir", str(self._kafka_dir)],
                "KAFKA_BOOTSTRAP_SERVERS=", timeout=600)

    def cpu(self) -> dict[str, float]:
        """CPU seconds of the PostgreSQL server and the Kafka broker this run started (the
        postmaster with its reaped children, plus the live children: backends come and go)."""
        out: dict[str, float] = {}
        if self._pg_dir:
            with contextlib.suppress(OSError, ValueError):
                pid = int((self._pg_dir / "data" / "postmaster.pid").read_text().split()[0])
                out["postgresql"] = _tree_cpu(pid)
        if self._kafka_dir:
            with contextlib.suppress(OSError, ValueError):
                out["kafka"] = _tree_cpu(int((self._kafka_dir / "kafka.pid").read_text().split()[0]))
        return out

    async def _sql(self, statement: str) -> Any:
        conn = await asyncpg.connect(f"{self.pg_url}/postgres")
        try:
            return await conn.fetch(statement)
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._kafka_dir:
            subprocess.run(["bash", "infra/kafka/kafka.sh", "stop", "--data-dir",
                            str(self._kafka_dir)], cwd=ROOT, capture_output=True, timeout=120)
            subprocess.run(["rm", "-rf", str(self._kafka_dir)])
            self._kafka_dir = None
        if self._pg_dir:
            subprocess.run(["bash", "infra/postgres/pg.sh", "stop", "--dir", str(self._pg_dir),
                            "--purge"], cwd=ROOT, capture_output=True, timeout=120)
            self._pg_dir = None
        elif self.created:
            for name in self.created:
                try:
                    asyncio.run(self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except Exception as exc:
                    say(f"could not drop {name}: {exc}")
            self.created = []

    async def create_database(self, prefix: str) -> str:
        """A fresh database on the server; returns its SQLAlchemy (asyncpg) URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(f"{self.pg_url}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
        finally:
            await conn.close()
        return f"{self.pg_url.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"


# ------------------------------------------------------------------------------------ processes

@dataclass
class Proc:
    """One real process (a service, the gateway, the bare baseline) on its own port."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    health: str = "/health/live"
    popen: subprocess.Popen[bytes] | None = None
    started_wall: float = 0.0  # time.time() at spawn

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        log = self.log_path.open("ab")
        # Own session: a Ctrl-C reaches this script once, and it stops the children in order.
        self.started_wall = time.time()
        self.popen = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    async def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.popen and self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.popen.returncode}); see "
                                       f"{self.log_path}")
                try:
                    if (await client.get(self.url + self.health)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop within {timeout}s: killing it")
            self.popen.kill()
            self.popen.wait(10)


class CpuMeter:
    """CPU seconds used by each process (and the run's PostgreSQL and Kafka when it started
    them) between `start()` and `stop()`."""

    def __init__(self, procs: Iterable[Proc], infra: Infra | None = None) -> None:
        self.procs = list(procs)
        self.infra = infra
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {p.name: p.cpu() for p in self.procs}
        if self.infra:
            now.update(self.infra.cpu())
        return now

    def start(self) -> "CpuMeter":
        self._before = self._now()
        return self

    def stop(self) -> dict[str, float]:
        now = self._now()
        self.used = {k: round(now[k] - self._before.get(k, 0.0), 3) for k in now}
        return self.used

    def per_op_ms(self, operations: int) -> dict[str, float]:
        return {name: round(s * 1000 / max(operations, 1), 3) for name, s in self.used.items()}


class Stack:
    """The services and the gateway of one run, on the run's PostgreSQL and Kafka."""

    def __init__(self, infra: Infra, tokens: Tokens, workdir: Path, *, kafka: bool = True,
                 extra_env: dict[str, dict[str, str]] | None = None) -> None:
        self.infra, self.tokens, self.workdir = infra, tokens, workdir
        self.kafka = kafka
        self.extra_env = extra_env or {}
        self.procs: dict[str, Proc] = {}
        self.databases: dict[str, str] = {}
        self.proxy_secret = secrets.token_urlsafe(32)

    def env_for(self, name: str, ports: dict[str, int]) -> dict[str, str]:
        prefix = name.upper() + "_"
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({"PYTHONUNBUFFERED": "1", "MARELLE_ENV": "development",
                    "MARELLE_VAR_DIR": str(self.workdir / "var"),
                    "MARELLE_PROXY_SECRET": self.proxy_secret,
                    "KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka or "127.0.0.1:1",
                    f"{prefix}PORT": str(ports[name]),
                    f"{prefix}KAFKA_ENABLED": "true" if self.kafka else "false",
                    f"{prefix}LOG_LEVEL": "WARNING",
                    # Tokens are the bench's own (see Tokens): identity's JWKS is served here.
                    f"{prefix}IDENTITY_URL": self.tokens.url,
                    "GATEWAY_COOKIE_SECURE": "false"})
        for other, port in ports.items():
            if other in DOMAIN and other != "identity":
                env[f"{prefix}{other.upper()}_URL"] = f"http://127.0.0.1:{port}"
        if name in self.databases:
            env[f"{prefix}DATABASE_URL"] = self.databases[name]
        env.update(self.extra_env.get(name, {}))
        return env

    async def start(self, services: Sequence[str], gateway: bool = False) -> None:
        names = list(services) + (["gateway"] if gateway else [])
        ports = {name: free_port() for name in names}
        for name in services:
            self.databases[name] = await self.infra.create_database(f"bench_{name}")
        (self.workdir / "var").mkdir(parents=True, exist_ok=True)
        for name in services:
            say(f"{name}: migrating {self.databases[name].rsplit('/', 1)[1]}")
            with (self.workdir / f"{name}.log").open("ab") as log:
                subprocess.run([sys.executable, "-m", f"marelle_{name}", "migrate"],
                               env=self.env_for(name, ports), cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, check=True, timeout=300)
        for name in names:
            args = [sys.executable, "-m", f"marelle_{name}", "serve"]
            if name in DOMAIN:
                args.append("--no-migrate")
            self.procs[name] = Proc(name, args, self.env_for(name, ports), ports[name],
                                    self.workdir / f"{name}.log")
            self.procs[name].start()
        for name in names:
            await self.procs[name].wait_ready()
        say("started: " + ", ".join(f"{n} (pid {p.pid}, port {p.port})"
                                    for n, p in self.procs.items()))

    def url(self, name: str) -> str:
        return self.procs[name].url

    def check_alive(self) -> None:
        dead = [n for n, p in self.procs.items() if not p.alive()]
        if dead:
            raise RuntimeError(f"stopped unexpectedly: {', '.join(dead)} (logs in {self.workdir})")

    def stop(self) -> None:
        # The gateway first (no new work), then the services (consumers commit, relays drain).
        for name in sorted(self.procs, key=lambda n: n != "gateway"):
            self.procs[name].stop()


# ------------------------------------------------------------------------------------ sampling

async def outbox_backlog(url: str) -> int:
    # An index scan, as the relay's (chassis/outbox.py): a bitmap scan reads every sent row.
    conn = await asyncpg.connect(plain(url), server_settings={"enable_bitmapscan": "off"})
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL AND parked_at IS NULL"))
    finally:
        await conn.close()


class KafkaLag:
    """Consumer lag of consumer groups (end offsets − committed offsets, summed over partitions)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin: Any = None
        self._consumer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap,
                                          client_id="bench-lag")
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                          client_id="bench-lag", enable_auto_commit=False)
        await self._consumer.start()

    async def lag(self, group: str, topic: str) -> int:
        from aiokafka import TopicPartition

        partitions = self._consumer.partitions_for_topic(topic)
        if partitions is None:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0
        ends = await self._consumer.end_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
        total = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(ends[tp] - done, 0)
        return total

    async def stop(self) -> None:
        if self._consumer:
            await self._consumer.stop()
        if self._admin:
            await self._admin.close()


class Sampler:
    """Samples, every `interval` seconds in the background: consumer lag of (group, topic) pairs
    and the outbox backlog of databases. `summary()` gives the maxima and the last values."""

    def __init__(self, *, lags: dict[str, tuple[str, str]] | None = None,
                 outboxes: dict[str, str] | None = None, kafka: str = "",
                 interval: float = 0.5) -> None:
        self.lags = lags or {}
        self.outboxes = outboxes or {}
        self.kafka = kafka
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.perf_counter()

    async def sample_once(self, lag: KafkaLag | None) -> dict[str, Any]:
        row: dict[str, Any] = {"t": round(time.perf_counter() - self._t0, 2)}
        if lag:
            for name, (group, topic) in self.lags.items():
                try:
                    row[f"lag:{name}"] = await lag.lag(group, topic)
                except Exception as exc:
                    row[f"lag:{name}"] = None
                    row["error"] = repr(exc)[:200]
        for name, url in self.outboxes.items():
            try:
                row[f"outbox:{name}"] = await outbox_backlog(url)
            except Exception as exc:
                row[f"outbox:{name}"] = None
                row["error"] = repr(exc)[:200]
        return row

    async def _run(self) -> None:
        lag = KafkaLag(self.kafka) if self.lags and self.kafka else None
        try:
            if lag:
                await lag.start()
            while True:
                self.samples.append(await self.sample_once(lag))
                await asyncio.sleep(self.interval)
        finally:
            if lag:
                with contextlib.suppress(Exception):
                    await lag.stop()

    def start(self) -> "Sampler":
        self._t0 = time.perf_counter()
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def summary(self) -> dict[str, Any]:
        keys = sorted({k for s in self.samples for k in s if ":" in k})
        out: dict[str, Any] = {"samples": len(self.samples)}
        for k in keys:
            values = [s[k] for s in self.samples if s.get(k) is not None]
            if values:
                out[k] = {"max": max(values), "last": values[-1]}
        return out


# ------------------------------------------------------------------------------------ queries

class QueryCounter:
    """Statements executed in one database, from pg_stat_statements (server-wide, filtered on the
    database): `reset()` before, `read()` after. Transaction control (BEGIN/COMMIT) is counted
    apart from the real queries."""

    def __init__(self, infra: Infra, database_url: str) -> None:
        self.infra = infra
        self.database = database_url.rsplit("/", 1)[1]

    async def reset(self) -> None:
        await self.infra._sql("SELECT pg_stat_statements_reset()")

    async def read(self) -> dict[str, Any]:
        rows = await self.infra._sql(
            "SELECT s.query, s.calls, s.rows, s.total_exec_time FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '" + self.database + "' "
            "ORDER BY s.calls DESC")
        control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
        queries = [r for r in rows if not r["query"].lstrip().upper().startswith(control)]
        return {"queries": sum(r["calls"] for r in queries),
                "transaction_control": sum(r["calls"] for r in rows if r not in queries),
                "top": [{"calls": r["calls"], "rows": r["rows"],
                         "ms": round(r["total_exec_time"], 1), "query": r["query"][:160]}
                        for r in queries[:8]],
                "top_all": [{"calls": r["calls"], "query": r["query"]} for r in queries],
                "top_all_timed": [{"calls": r["calls"], "rows": r["rows"],
                                   "ms": round(r["total_exec_time"], 1),
                                   "query": r["query"][:300]} for r in queries]}


# ------------------------------------------------------------------------------------ profiling

class Profile:
    """py-spy sampling one process (`--nonblocking`: the target is not paused) while it runs;
    `stop()` returns the top functions by own time and by total time (collapsed stacks)."""

    def __init__(self, proc: Proc, out: Path, rate: int = 50) -> None:
        self.proc, self.out, self.rate = proc, out, rate
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Profile":
        spy = Path(sys.executable).parent / "py-spy"
        if not spy.exists():
            say("py-spy not installed in the venv (pip install py-spy): no profile")
            return self
        self._popen = subprocess.Popen(
            [str(spy), "record", "--pid", str(self.proc.pid), "--format", "raw", "--rate",
             str(self.rate), "--nonblocking", "--output", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=(self.out.with_suffix(".log")).open("wb"))
        return self

    def stop(self, top: int = 15) -> dict[str, Any]:
        if not self._popen:
            return {}
        self._popen.send_signal(signal.SIGINT)
        try:
            self._popen.wait(60)
        except subprocess.TimeoutExpired:
            self._popen.kill()
        if not self.out.exists():
            return {"error": "py-spy wrote no profile"}
        return summarise_collapsed(self.out.read_text(), top)


def _split(frame: str) -> tuple[str, str]:
    """"function (/path/to/file.py:123)" -> ("function", "/path/to/file.py")."""
    name, _, where = frame.partition(" (")
    return name, where.rstrip(")").rsplit(":", 1)[0]


def _short(name: str, path: str) -> str:
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:]) if len(parts) > 1 else path})"


def _package(path: str) -> str:
    # py-spy names files relative to their sys.path entry: "sqlalchemy/sql/elements.py".
    if path.startswith("<"):
        return path
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") if "/" in path else f"{head.removesuffix('.py')} (stdlib)"


def summarise_collapsed(text: str, top: int = 15) -> dict[str, Any]:
    """Main thread only (the event loop: where requests and consumers run). Own time by function
    and by package (whose code was on the CPU), total time of Marelle's own functions."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    samples = idle = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or "_run_module_as_main" not in stack:
            continue
        n = int(count)
        frames = [_split(f) for f in stack.split(";") if f]
        samples += n
        leaf_name, leaf_path = frames[-1]
        # The event loop waiting for I/O is not work.
        if leaf_name in ("select", "poll", "epoll") or leaf_path.endswith("selectors.py"):
            idle += n
            continue
        own[_short(leaf_name, leaf_path)] += n
        packages[_package(leaf_path)] += n
        for name, path in {(n_, p_) for n_, p_ in frames}:
            if "marelle_" in path and not path.endswith(("cli.py", "__main__.py")):
                ours[_short(name, path)] += n
    busy = samples - idle

    def pct(counter: Counter[str], top: int = top) -> list[list[Any]]:
        return [[f, round(100 * c / max(busy, 1), 1)] for f, c in counter.most_common(top)]

    return {"samples": samples, "idle_samples": idle, "busy_samples": busy,
            "own_time_pct_of_busy": pct(own), "own_time_by_package_pct_of_busy": pct(packages),
            # Deeper: the request path's middlewares fill the first lines; the decider, the
            # relay and the consumers come after (the JSON keeps them, the summary shows 10).
            "marelle_functions_total_time_pct_of_busy": pct(ours, 3 * top)}


def profile_markdown(title: str, profile: dict[str, Any], lines: int = 10) -> str:
    if not profile or "own_time_pct_of_busy" not in profile:
        return f"{title}: no profile ({profile.get('error', 'py-spy unavailable')})."
    tables = [md_table([header, "% of busy"], [(f"`{f}`", p) for f, p in profile[key][:lines]])
              for header, key in (("own time by package", "own_time_by_package_pct_of_busy"),
                                  ("own time by function", "own_time_pct_of_busy"),
                                  ("Marelle's functions, total time",
                                   "marelle_functions_total_time_pct_of_busy"))]
    return (f"{title} (py-spy on the event loop's thread, {profile['samples']} samples, "
            f"{profile['idle_samples']} idle waiting for I/O):\n\n" + "\n\n".join(tables))


# ------------------------------------------------------------------------------------ running

def booking_calendar_body(group_id: uuid.UUID, places: int) -> dict[str, Any]:
    """A booking calendar (booking's staff API) for the booking scenarios: weekdays, bookable
    until the day itself, « repas » and « journée » (implying « repas »), `places` per unit."""
    return {"weekdays": [1, 2, 3, 4, 5], "skip_public_holidays": True,
            "booking_deadline": {"days": 0, "working_days": False, "cutoff": "23:59"},
            "cancellation_deadline": {"days": 0, "working_days": False, "cutoff": "23:59"},
            "horizon_days": 365, "units": [
                {"code": "repas", "label": "Repas", "kind": "supplement"},
                {"code": "journee", "label": "Journée complète", "kind": "journee",
                 "implies": ["repas"]}],
            "capacities": [{"group_id": str(group_id), "unit": u, "capacity": places}
                           for u in ("repas", "journee")]}


async def start_bare(run: Run) -> tuple[str, Proc]:
    """The bare baseline (`bare_baseline.py`) in its own database and process, on the run's
    PostgreSQL: (its database URL, its process)."""
    from bare_baseline import setup

    bare_db = plain(await run.infra.create_database("bench_bare"))
    await setup(bare_db, [])
    port = free_port()
    bare = Proc("bare", [sys.executable, str(BENCH / "bare_baseline.py"), "serve",
                         "--database", bare_db, "--port", str(port)],
                dict(os.environ), port, run.workdir / "bare.log")
    run.procs.append(bare)
    bare.start()
    await bare.wait_ready()
    return bare_db, bare


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="postgresql://user@host:port of an existing server "
                                           "(fresh databases are made on it); default: a fresh "
                                           "cluster started by infra/postgres/pg.sh")
    parser.add_argument("--kafka", help="bootstrap servers of an existing broker (fresh topics "
                                        "are used); default: a fresh broker (infra/kafka/kafka.sh)")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy profile")
    parser.add_argument("--save-as", help="result name under bench/results/ (default: the "
                                          "scenario's name; small runs use another)")


@dataclass
class Run:
    """What a scenario gets: the infra, the tokens, a work dir; `close()` stops everything."""

    infra: Infra
    tokens: Tokens
    workdir: Path
    stacks: list[Stack] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)

    def stack(self, **kwargs: Any) -> Stack:
        s = Stack(self.infra, self.tokens, self.workdir, **kwargs)
        self.stacks.append(s)
        return s

    def close(self) -> None:
        for p in self.procs:
            p.stop()
        for s in self.stacks:
            s.stop()
        self.tokens.close()
        self.infra.stop()


def run_scenario(main: Any, args: argparse.Namespace, need_kafka: bool = True) -> None:
    """Start the infra, run `await main(run, args)`, stop everything whatever happens."""
    infra = Infra(args.database, args.kafka, need_kafka=need_kafka)
    workdir = Path(tempfile.mkdtemp(prefix="marelle-bench-"))
    say(f"logs in {workdir}")

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    run: Run | None = None
    try:
        infra.start()
        run = Run(infra, Tokens(), workdir)
        asyncio.run(main(run, args))
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        raise SystemExit(130) from None
    finally:
        say("stopping the processes and the infrastructure")
        if run:
            run.close()
        else:
            infra.stop()


def save(name: str, result: dict[str, Any], summary: str) -> Path:
    from results_io import save as save_result

    path = save_result(name, result, summary)
    say(f"result: {path} (+ .md)")
    return path
