"""`python -m marelle_<service> migrate|serve|...`: the same commands for every service."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from marelle_chassis import migrations
from marelle_chassis.logs import configure_logging
from marelle_chassis.settings import ServiceSettings, UnsafeConfiguration


def run_cli(*, settings_factory: Callable[[], ServiceSettings], app_path: str,
            migrations_dir: Path | None,
            commands: dict[str, Callable[[ServiceSettings], Awaitable[Any]]] | None = None,
            argv: list[str] | None = None,
            preflight: Callable[[ServiceSettings], None] | None = None) -> int:
    """`preflight` checks the settings before serving (e.g. no default secret in production):
    its `UnsafeConfiguration` is said in one clear line, with exit status 2, no traceback."""
    try:
        return _run(settings_factory, app_path, migrations_dir, commands, argv, preflight)
    except UnsafeConfiguration as exc:
        print(f"marelle: {exc}", file=sys.stderr, flush=True)
        return 2


def _run(settings_factory: Callable[[], ServiceSettings], app_path: str,
         migrations_dir: Path | None,
         commands: dict[str, Callable[[ServiceSettings], Awaitable[Any]]] | None,
         argv: list[str] | None, preflight: Callable[[ServiceSettings], None] | None) -> int:
    commands = commands or {}
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    if migrations_dir:
        sub.add_parser("migrate", help="apply the database migrations")
    serve = sub.add_parser("serve", help="run the HTTP API and the Kafka consumers")
    if migrations_dir:
        serve.add_argument("--no-migrate", action="store_true")
    for name, fn in commands.items():
        sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else None)
    args = parser.parse_args(argv)
    settings = settings_factory()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    if args.command == "migrate":
        migrations.upgrade(migrations_dir, settings.database_url)  # type: ignore[arg-type]
        return 0
    if args.command == "serve":
        import uvicorn

        if preflight:
            preflight(settings)
        if migrations_dir and not args.no_migrate:
            migrations.upgrade(migrations_dir, settings.database_url)
        uvicorn.run(app_path, factory=True, host=settings.host, port=settings.port,
                    log_config=None, timeout_graceful_shutdown=20, access_log=False)
        return 0
    asyncio.run(commands[args.command](settings))
    return 0


def main_guard(code: int) -> None:
    sys.exit(code)
