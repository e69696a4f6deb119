"""The staff audit log every service keeps: who did what, when, with the before and after.

`audit()` writes the line in the use case's own transaction (no action without its line, no line
without its action); the staff tools without a unit of work (dead-letter replays, parked outbox
retries) write it with `audit_with_connection()` in the transaction of their change.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
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
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.db import UtcDateTime

if TYPE_CHECKING:  # uow imports the outbox, which imports this module
    from marelle_chassis.uow import UnitOfWork

STAFF_AUDIT = "staff_audit"


def add_audit_table(metadata: MetaData) -> Table:
    table = Table(
        STAFF_AUDIT, metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("at", UtcDateTime, nullable=False),
        Column("staff_id", Uuid, nullable=False),
        Column("staff_email", String(254), nullable=False),
        Column("action", String(60), nullable=False),
        Column("target", String(200), nullable=False),
        Column("before", Text, nullable=True),  # JSON
        Column("after", Text, nullable=True),  # JSON
    )
    Index("ix_staff_audit_at", table.c.at)
    return table


def audit_table(metadata: MetaData) -> Table | None:
    return metadata.tables.get(STAFF_AUDIT)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, ensure_ascii=False)


def _staff_id(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:  # a service principal has no uuid; keep the line anyway
        return uuid.UUID(int=0)


def _values(table: Table, principal: Principal, action: str, target: str, before: Any,
            after: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "at": datetime.now(UTC), "staff_id": _staff_id(principal),
        "staff_email": (principal.email or "")[:254], "action": action[:60],
        "target": target[:200]}
    if "before" in table.c:
        values.update(before=_json(before), after=_json(after))
    else:  # identity's older table: one `details` JSON column
        values["details"] = _json({"before": before, "after": after}) or "{}"
    return values


async def audit(uow: UnitOfWork, principal: Principal, action: str, target: str,
                before: Any = None, after: Any = None) -> None:
    """One line in the caller's transaction: it commits (or rolls back) with the change."""
    table = audit_table(uow._metadata)
    if table is None:
        raise RuntimeError("this service has no staff_audit table (add_audit_table)")
    await uow.session.execute(insert(table).values(
        _values(table, principal, action, target, before, after)))


async def audit_with_connection(conn: AsyncConnection, metadata: MetaData, principal: Principal,
                                action: str, target: str, before: Any = None,
                                after: Any = None) -> None:
    """For chassis tools without a unit of work; a service without the table writes nothing."""
    table = audit_table(metadata)
    if table is not None:
        await conn.execute(insert(table).values(
            _values(table, principal, action, target, before, after)))


async def audit_with_engine(engine: AsyncEngine, metadata: MetaData, principal: Principal,
                            action: str, target: str, before: Any = None,
                            after: Any = None) -> None:
    async with engine.begin() as conn:
        await audit_with_connection(conn, metadata, principal, action, target, before, after)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    service: str = Field(max_length=40)
    staff_id: uuid.UUID
    staff_email: str = Field(max_length=254)
    action: str = Field(max_length=60)
    target: str = Field(max_length=200)
    before: Any = None
    after: Any = None


class AuditEntries(BaseModel):
    items: list[AuditEntry] = Field(max_length=1000)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def audit_router(table: Table, engine: AsyncEngine, service: str) -> APIRouter:
    """`GET /staff/audit`: newest first, filtered; one query whatever the filters."""
    router = APIRouter(prefix="/staff/audit", tags=["audit"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @router.get("", response_model=AuditEntries)
    async def audit_log(
        _: Principal = Depends(staff),
        action: Annotated[str | None, Query(max_length=60)] = None,
        staff: Annotated[str | None, Query(max_length=254)] = None,
        target: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> AuditEntries:
        query = select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
        if action:  # « inscription. » finds every registration decision
            query = query.where(table.c.action.like(f"{_escape_like(action)}%", escape="\\"))
        if staff:
            query = query.where(table.c.staff_email.ilike(f"%{_escape_like(staff)}%",
                                                          escape="\\"))
        if target:
            query = query.where(table.c.target.like(f"%{_escape_like(target)}%", escape="\\"))
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return AuditEntries(items=[AuditEntry(
            id=r.id, at=r.at, service=service, staff_id=r.staff_id, staff_email=r.staff_email,
            action=r.action, target=r.target,
            before=json.loads(r.before) if r.before else None,
            after=json.loads(r.after) if r.after else None) for r in rows])

    return router
