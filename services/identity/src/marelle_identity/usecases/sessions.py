"""Sessions: one per login (the access tokens' `sid`, the refresh tokens' chain), and their end.

Every revocation, in the transaction of its cause: the account's refresh tokens (all, or one
session's), its pending links when the whole account is concerned, a `session_revocation` row
(identity's own token check) and the `identity.sessions_revoked` event (every other service).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.db import (
    account,
    one_time_token,
    refresh_token,
    session_revocation,
    staff_account,
)
from marelle_identity.usecases.common import now


def _table(kind: str) -> Any:
    return staff_account if kind == "staff" else account


async def revoke(uow: UnitOfWork, kind: str, account_id: uuid.UUID, reason: str, *,
                 session_id: uuid.UUID | None = None, links: bool = False,
                 only_if_live: bool = False) -> bool:
    """End one session (`session_id`) or all of them (None) of a parent or staff account.

    `links`: also spend its pending reset, invitation and confirmation links. `only_if_live`:
    record and publish nothing when the session had no live refresh token left (a replayed
    token must not publish an event each time). True when the revocation was recorded.
    """
    table = _table(kind)
    # Bumping the account's version first locks its row: a login of this account that is
    # committing finishes before `at` is read, so its tokens (issued before) are covered.
    version = await uow.session.scalar(
        update(table).where(table.c.id == account_id)
        .values(session_version=table.c.session_version + 1).returning(table.c.session_version))
    if version is None:
        return False
    at = now()
    live = 0
    if kind == "parent":
        tokens = update(refresh_token).where(refresh_token.c.account_id == account_id,
                                             refresh_token.c.revoked_at.is_(None))
        if session_id is not None:
            tokens = tokens.where(refresh_token.c.session_id == session_id)
        live = (await uow.session.execute(tokens.values(revoked_at=at))).rowcount
        if links:
            await uow.session.execute(
                update(one_time_token).where(one_time_token.c.account_id == account_id,
                                             one_time_token.c.used_at.is_(None))
                .values(used_at=at))
    if only_if_live and not live:
        return False
    await uow.session.execute(insert(session_revocation).values(
        account_id=account_id, session_id=session_id, revoked_before=at, reason=reason))
    uow.publish(events.SessionsRevoked(account_id=account_id, session_id=session_id,
                                       revoked_before=at, reason=reason), version=version)
    return True


def issued_at(claims: dict[str, Any]) -> datetime | None:
    iat = claims.get("iat")
    return datetime.fromtimestamp(float(iat), UTC) if isinstance(iat, int | float) else None


async def is_revoked(uow: UnitOfWork, claims: dict[str, Any]) -> bool:
    """Whether a (validly signed) access token's session has ended."""
    try:
        subject = uuid.UUID(str(claims["sub"]))
        sid = uuid.UUID(str(claims["sid"])) if claims.get("sid") else None
    except (KeyError, ValueError):
        return True
    r = session_revocation.c
    ended = []
    if sid is not None:
        ended.append(r.session_id == sid)
    iat = issued_at(claims)
    if iat is not None:
        ended.append(and_(r.session_id.is_(None), r.revoked_before >= iat))
    else:
        ended.append(r.session_id.is_(None))
    async with uow:
        return await uow.session.scalar(
            select(r.id).where(r.account_id == subject, or_(*ended)).limit(1)) is not None
