"""`./marelle run`: the broker, every service, the gateway and the back-office, with demo data.

Uses `KAFKA_BOOTSTRAP_SERVERS` when set, else starts the local broker (infra/kafka/kafka.sh).
Databases: `<SERVICE>_DATABASE_URL` when set; else, with `MARELLE_PG_URL`
(postgresql://user@host:port), one database per service on that server; else SQLite under var/.
Ctrl-C stops the processes (consumers commit, relays drain), then the broker it started.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = {"identity": 8101, "enrolment": 8102, "booking": 8103, "billing": 8104}
APPS = {"backoffice": 8090, "gateway": 8080}
MAILBOX = {"smtp": 1025, "http": 8025}
LOGS = ROOT / "var" / "logs"


def say(message: str) -> None:
    print(f"marelle: {message}", file=sys.stderr, flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start_kafka() -> tuple[str, bool]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        say(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS={servers}")
        return servers, False
    say("Kafka: starting the local broker (infra/kafka/kafka.sh; first run downloads its jars)")
    result = subprocess.run(["bash", "infra/kafka/kafka.sh", "start"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit("marelle: could not start Kafka (see above). Set KAFKA_BOOTSTRAP_SERVERS to use "
                 "an existing broker, or run `docker compose up kafka` on a Docker host.")
    servers = result.stdout.strip().splitlines()[-1].split("=", 1)[1]
    return servers, True


def database_urls() -> dict[str, str]:
    urls: dict[str, str] = {}
    pg = os.environ.get("MARELLE_PG_URL", "").rstrip("/")
    if pg:
        asyncio.run(_create_databases(pg, list(DOMAIN)))
    for name in DOMAIN:
        key = f"{name.upper()}_DATABASE_URL"
        if os.environ.get(key):
            urls[name] = os.environ[key]
        elif pg:
            urls[name] = f"{pg.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    return urls


async def _create_databases(base: str, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def service_env(kafka: str, dbs: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MARELLE_VAR_DIR", str(ROOT / "var"))
    env["KAFKA_BOOTSTRAP_SERVERS"] = kafka
    env["PYTHONUNBUFFERED"] = "1"
    # A development run: demo data, said on the console and in every page's footer.
    env["MARELLE_ENV"] = "development"
    # Fresh for each run, shared by every process: identity believes the client address the
    # gateway and the back-office pass on only with it.
    env.setdefault("MARELLE_PROXY_SECRET", secrets.token_urlsafe(32))
    # Plain HTTP on 127.0.0.1: cookies cannot be `Secure` here (they are by default).
    env.setdefault("GATEWAY_COOKIE_SECURE", "false")
    env.setdefault("BACKOFFICE_COOKIE_SECURE", "false")
    env.setdefault("IDENTITY_PORTAL_URL", f"http://127.0.0.1:{APPS['gateway']}")
    # Development run: the local sandbox bank plays the card provider (off by default, so a
    # production start never accepts its forged answers).
    env.setdefault("BILLING_PAYMENT_SANDBOX", "true")
    env.setdefault("BILLING_PUBLIC_URL", f"http://127.0.0.1:{DOMAIN['billing']}")
    env.setdefault("GATEWAY_PUBLIC_URL", f"http://127.0.0.1:{APPS['gateway']}")
    for name in list(DOMAIN) + list(APPS):
        prefix = name.upper() + "_"
        for other, port in DOMAIN.items():
            env.setdefault(f"{prefix}{other.upper()}_URL", f"http://127.0.0.1:{port}")
        if name in dbs:
            env[f"{prefix}DATABASE_URL"] = dbs[name]
    return env


def run_step(module: str, command: str, env: dict[str, str]) -> None:
    with (LOGS / f"{module}.log").open("ab") as log:
        result = subprocess.run([sys.executable, "-m", module, command], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"marelle: `{module} {command}` failed; see {LOGS / (module + '.log')}")


def wait_ready(name: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited; see {LOGS / ('marelle_' + name + '.log')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer on port {port} within {timeout}s")


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    use_mailbox = not os.environ.get("IDENTITY_SMTP_HOST")
    ports = {**DOMAIN, **APPS, **({f"mailbox {k}": p for k, p in MAILBOX.items()} if use_mailbox else {})}
    taken = [f"{n} ({p})" for n, p in ports.items() if not port_free(p)]
    if taken:
        sys.exit("marelle: ports already in use: " + ", ".join(taken) +
                 ". Is Marelle already running? Stop it (Ctrl-C) first.")
    say("Mode développement : données de démonstration, ne pas utiliser en production")
    kafka, started_kafka = start_kafka()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        say("stopping: consumers commit, relays drain…")
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in processes.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                proc.kill()
        if started_kafka:
            subprocess.run(["bash", "infra/kafka/kafka.sh", "stop"], cwd=ROOT)
        say("stopped.")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        dbs = database_urls()
        env = service_env(kafka, dbs)
        for name in DOMAIN:
            say(f"{name}: migrating its database ({'PostgreSQL' if name in dbs else 'SQLite'})")
            run_step(f"marelle_{name}", "migrate", env)
        say("loading the demo data (idempotent)")
        run_step("marelle_identity", "seed-demo", env)
        run_step("marelle_enrolment", "seed-demo", env)
        if use_mailbox:
            # Development mailbox: identity's emails land here, readable in the browser.
            processes["mailbox"] = subprocess.Popen(
                [sys.executable, "infra/mailbox/mailbox.py", "--smtp-port", str(MAILBOX["smtp"]),
                 "--http-port", str(MAILBOX["http"]), "--dir", str(ROOT / "var" / "mailbox")],
                env=env, cwd=ROOT, stdout=(LOGS / "mailbox.log").open("ab"),
                stderr=subprocess.STDOUT, start_new_session=True)
        for name, port in {**DOMAIN, **APPS}.items():
            log = (LOGS / f"marelle_{name}.log").open("ab")
            args = [sys.executable, "-m", f"marelle_{name}", "serve"]
            if name in DOMAIN:
                args.append("--no-migrate")
            # Own process group: Ctrl-C reaches us once, and we stop the children in order.
            processes[name] = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        for name, port in {**DOMAIN, **APPS}.items():
            wait_ready(name, port, processes[name])
        # The calendar of the demo family crosses services: loaded over their APIs (idempotent).
        subprocess.run([sys.executable, "infra/demo_booking.py",
                        *(f"{name}={port}" for name, port in DOMAIN.items())],
                       env=env, cwd=ROOT, timeout=180)
        # Billing's set-up and the demo family's open invoices, over its API (idempotent).
        subprocess.run([sys.executable, "infra/demo_billing.py",
                        *(f"{name}={port}" for name, port in DOMAIN.items())],
                       env=env, cwd=ROOT, timeout=180)
        print(f"""
Marelle is running (logs in {LOGS}).

  Portail des familles   http://127.0.0.1:{APPS['gateway']}/
  API des familles       http://127.0.0.1:{APPS['gateway']}/api/v1/docs
  Back-office            http://127.0.0.1:{APPS['backoffice']}/
  Emails sent (dev)      {f"http://127.0.0.1:{MAILBOX['http']}/" if use_mailbox else "your SMTP server"}
  Services               {', '.join(f'{n} http://127.0.0.1:{p}/docs' for n, p in DOMAIN.items())}
  Kafka                  {kafka}

Demo logins:
  family         famille.martin@example.org / marelle-famille   (portal)
  administrator  admin@marelle.local / marelle-admin            (back-office)
  manager        gestionnaire@marelle.local / marelle-gestion   (back-office)

Ctrl-C to stop.
""", flush=True)
        while True:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} stopped unexpectedly; see {LOGS}/marelle_{name}.log")
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        say(str(exc))
        return 1
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
