"""The outbox and inbox tables, added to each service's own metadata (and migrations)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

from marelle_chassis.db import UtcDateTime

OUTBOX = "outbox_message"
INBOX = "inbox_message"


def add_messaging_tables(metadata: MetaData) -> None:
    outbox = Table(
        OUTBOX,
        metadata,
        # BIGINT on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("sent_at", UtcDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        # Set aside after bounded attempts when the row can never be published (staff see it).
        Column("parked_at", UtcDateTime, nullable=True),
    )
    # The relay only ever scans unsent rows in id order.
    Index("ix_outbox_message_unsent", outbox.c.id,
          postgresql_where=outbox.c.sent_at.is_(None), sqlite_where=outbox.c.sent_at.is_(None))
    inbox = Table(
        INBOX,
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", UtcDateTime, nullable=False),
    )
    # Pruning deletes by age.
    Index("ix_inbox_message_processed_at", inbox.c.processed_at)
    Index("ix_outbox_message_sent_at", outbox.c.sent_at)


def outbox_table(metadata: MetaData) -> Table:
    return metadata.tables[OUTBOX]


def inbox_table(metadata: MetaData) -> Table:
    return metadata.tables[INBOX]
