"""A service's runtime pieces, built once in its `main.py` (the composition root)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData

from marelle_chassis import db
from marelle_chassis.auth import TokenVerifier
from marelle_chassis.docs import offline_docs
from marelle_chassis.errors import domain_problem, install_problem_handlers
from marelle_chassis.fastlane import FastLane, Lane
from marelle_chassis.health import health_router
from marelle_chassis.http import (
    CorrelationIdMiddleware,
    NO_TELEMETRY,
    LoadSheddingMiddleware,
    NoStoreMiddleware,
    RefuseNulMiddleware,
)
from marelle_chassis.messaging import (
    consumer_health,
    create_broker,
    ensure_topics,
    publish_raw,
    retry_topics,
)
from marelle_chassis.messaging_tables import inbox_table, outbox_table
from marelle_chassis.openapi import document_api
from marelle_chassis.outbox import OutboxRelay, Retention, parked_outbox_router
from marelle_chassis.revocations import RevocationFeed, Revocations
from marelle_chassis.settings import ServiceSettings, announce_mode, refuse_unsafe_production
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Topics

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, metadata: MetaData, migrations_dir: Path) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.metadata = metadata
        self.migrations_dir = migrations_dir
        self.engine = db.create_engine(settings.database_url, pool_size=settings.db_pool_size)
        self.sessions = db.session_factory(self.engine)
        self.broker: KafkaBroker | None = (
            create_broker(settings.kafka_bootstrap_servers, client_id=self.name)
            if settings.kafka_enabled else None
        )
        self.relay: OutboxRelay | None = (
            OutboxRelay(self.engine, outbox_table(metadata), partial(publish_raw, self.broker),
                        name=self.name, inbox=inbox_table(metadata),
                        retention=Retention(outbox_days=settings.outbox_retention_days,
                                            inbox_days=settings.inbox_retention_days))
            if self.broker else None
        )
        # Every service refuses at once the tokens of a session identity ended (logout,
        # password change…), learnt from identity's topic by this very process.
        self.revocations = Revocations(settings.revocation_memory_seconds)
        self.revocation_feed: RevocationFeed | None = (
            RevocationFeed(settings.kafka_bootstrap_servers, self.revocations,
                           client_id=self.name)
            if settings.kafka_enabled else None
        )
        self.token_verifier = TokenVerifier(settings.jwks_url, revocations=self.revocations)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.metadata, producer=self.name,
                          on_commit=self.relay.notify if self.relay else None)

    async def start(self) -> None:
        announce_mode(self.settings)
        if self.broker:
            await ensure_topics(self.settings.kafka_bootstrap_servers,
                                [*Topics.all(), *sorted(retry_topics(self.broker))])
            await self.broker.start()
        if self.relay:
            self.relay.start()
        if self.revocation_feed:
            self.revocation_feed.start()
            # Serve once the recent revocations are read (readiness says so meanwhile).
            await self.revocation_feed.wait_caught_up(timeout=15.0)
        log.info("%s started", self.name)

    async def stop(self) -> None:
        # Drain the outbox while the producer is up, then let the consumers finish their
        # message and commit (broker.stop waits up to graceful_timeout).
        if self.revocation_feed:
            await self.revocation_feed.stop()
        if self.relay:
            await self.relay.stop()
        if self.broker:
            # Consumers holding a message for an unreachable dependency let go (uncommitted).
            consumer_health(self.broker).stopping.set()
            await self.broker.stop()
        await self.engine.dispose()
        log.info("%s stopped", self.name)

    async def check_database(self) -> None:
        await db.ping(self.engine)

    async def check_broker(self) -> None:
        if self.broker and not await self.broker.ping(timeout=2.0):
            raise ConnectionError("Kafka")

    async def check_consumers(self) -> None:
        """Not ready while a consumer holds a message because a dependency is down."""
        if self.broker:
            consumer_health(self.broker).check()

    async def check_revocations(self) -> None:
        if self.revocation_feed:
            self.revocation_feed.check()


_heap_frozen = False
YOUNG_COLLECTION_EVERY = 10_000


def freeze_startup_heap() -> None:
    """Once per process, when the app has started: what startup loaded (modules, schemas,
    tables) lives as long as the process, so it is moved out of the cyclic collector's sight,
    which otherwise walks it all at every full collection (about half the time of a 10,000-row
    page in bench/pages.py; payload validation 6× slower in a consumer's batch of 1,000 in
    bench/events.py). Once only: a process that builds many apps (the tests) would otherwise
    freeze the garbage of the previous ones for good.

    The youngest generation is collected every 10,000 allocations instead of 700: a consumer's
    batch or a page allocates tens of thousands of objects that live until it is done, and
    each early collection walked them again (a fifth of the CPU of applying identity events
    in a loop of 20,000; the objects in cycles that wait longer are few and small)."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def create_service_app(runtime: ServiceRuntime, *, title: str, routers: Sequence[APIRouter],
                       description: str = "",
                       lanes: Sequence[Lane] = (),
                       on_startup: Sequence[Callable[[], object]] = (),
                       on_shutdown: Sequence[Callable[[], object]] = ()) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        for hook in on_startup:
            result = hook()
            if hasattr(result, "__await__"):
                await result  # type: ignore[misc]
        freeze_startup_heap()
        try:
            yield
        finally:
            for hook in on_shutdown:
                result = hook()
                if hasattr(result, "__await__"):
                    await result  # type: ignore[misc]
            await runtime.stop()

    # A production start with a broker reached without authentication is refused here, once for
    # every service (each service adds its own secrets where it has some).
    refuse_unsafe_production(runtime.settings, {})
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan,
                  license_info={"name": "AGPL-3.0-or-later"}, docs_url=None, redoc_url=None,
                  telemetry=NO_TELEMETRY)
    offline_docs(app)
    app.state.runtime = runtime
    app.state.token_verifier = runtime.token_verifier
    if lanes:  # innermost: the middlewares below apply to the lanes' answers too
        app.add_middleware(FastLane, lanes=lanes, on_domain_error=domain_problem)
    # API answers carry personal data: never kept by a browser or a shared cache.
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(RefuseNulMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    # Outermost: an overloaded process answers « réessayez » at once, before any work.
    app.add_middleware(LoadSheddingMiddleware, max_in_flight=runtime.settings.max_in_flight)
    install_problem_handlers(app)
    checks = {"database": runtime.check_database}
    if runtime.broker:
        checks["kafka"] = runtime.check_broker
        checks["consumers"] = runtime.check_consumers
    if runtime.revocation_feed:
        checks["revocations"] = runtime.check_revocations
    app.include_router(health_router(runtime.name, checks))
    for router in routers:
        app.include_router(router)
    app.include_router(parked_outbox_router(runtime.engine, outbox_table(runtime.metadata)))
    # The OpenAPI says what the API really does: bearer scheme, problem+json errors, statuses.
    document_api(app)
    return app
