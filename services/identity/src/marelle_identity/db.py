"""Identity's tables (its own database; no other service reads it)."""

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, String, Table, Text, Uuid

from marelle_chassis.db import new_metadata

metadata = new_metadata()

family = Table(
    "family", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("email", String(254), nullable=True, unique=True),
    Column("needs_review", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

person = Table(
    "person", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, ForeignKey("family.id"), nullable=False, index=True),
    Column("role", String(20), nullable=False),  # child | guardian
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("sex", String(1), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

staff_account = Table(
    "staff_account", metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(200), nullable=False),  # space-separated: administrator manager
    Column("created_at", DateTime(timezone=True), nullable=False),
)

signing_key = Table(
    "signing_key", metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
