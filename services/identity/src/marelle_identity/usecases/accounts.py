"""Accounts: login (throttled), refresh and logout, password reset, invitations, sign-up."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis.domain_errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    TooManyAttempts,
    Unauthorized,
)
from marelle_chassis.uow import UnitOfWork
from marelle_identity.config import IdentitySettings
from marelle_identity.db import account, login_throttle, one_time_token, refresh_token, staff_account
from marelle_identity.db import family as family_t
from marelle_identity.domain import throttle
from marelle_identity.domain.model import normalise_email
from marelle_identity.domain.passwords import check_password
from marelle_identity.keys import KeyRing
from marelle_identity.notifications import queue_email
from marelle_identity.usecases.common import (
    digest,
    hash_password,
    new_secret,
    now,
    verify_password,
)
from marelle_identity.usecases.households import (
    NewGuardian,
    email_taken,
    insert_account,
    insert_household,
    issue_one_time_token,
)

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
INVALID_LINK = ("Ce lien n'est plus valide : il a déjà servi ou il a expiré. "
                "Demandez-en un nouveau depuis « Mot de passe oublié ? ».")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: int


def _email_or_refuse(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidInput:
        raise Unauthorized(BAD_CREDENTIALS) from None


def _insert(uow: UnitOfWork) -> Any:
    return postgresql.insert if uow.session.bind.dialect.name == "postgresql" else sqlite.insert


Blocks = dict[str, tuple[datetime | None, datetime | None]]


async def _admit(uow: UnitOfWork, limits: dict[str, throttle.Limit]) -> Blocks:
    """Refuse a throttled attempt (429, nothing written), else count it as a failure *before*
    the password is checked: attempts sent together cannot slip past the limit while their
    passwords are being verified. A success takes it back (`_succeeded`).

    The counters' rows are locked in one fixed order (sorted keys), so no two logins deadlock.
    Returns, for each key, its `blocked_until` before and after this attempt was counted.
    """
    at = now()
    counters: dict[str, throttle.Counter] = {}
    for key in sorted(limits):
        for _ in range(10):  # a successful login may delete the row between the two statements
            await uow.session.execute(_insert(uow)(login_throttle).values(
                key=key, failures=0, window_started_at=at, blocked_until=None)
                .on_conflict_do_nothing(index_elements=["key"]))
            row = (await uow.session.execute(
                select(login_throttle).where(login_throttle.c.key == key).with_for_update())
            ).first()
            if row is not None:
                break
        else:
            raise RuntimeError(f"login counter {key!r} keeps disappearing")
        counters[key] = throttle.Counter(row.failures, row.window_started_at, row.blocked_until)
    waits = [w for c in counters.values() if (w := throttle.wait_left(c, at))]
    if waits:
        wait = max(waits)
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise TooManyAttempts(
            f"Trop de tentatives de connexion : réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.", retry_after_seconds=math.ceil(wait.total_seconds()))
    blocks: Blocks = {}
    for key in sorted(limits):
        charged = throttle.after_failure(counters[key], limits[key], at)
        await uow.session.execute(update(login_throttle).where(login_throttle.c.key == key).values(
            failures=charged.failures, window_started_at=charged.window_started_at,
            blocked_until=charged.blocked_until))
        blocks[key] = (counters[key].blocked_until, charged.blocked_until)
    return blocks


async def _login_attempt(uow: UnitOfWork, account_key: str, address: str | None,
                         find: Any) -> tuple[Any, Blocks]:
    """A short first transaction: throttling (checked and counted) and the account's row."""
    limits = {account_key: throttle.ACCOUNT}
    if address:
        limits[f"address:{address}"] = throttle.ADDRESS
    async with uow:
        blocks = await _admit(uow, limits)
        row = (await uow.session.execute(find)).first()
        await uow.commit()
    return row, blocks


async def _succeeded(uow: UnitOfWork, account_key: str, blocks: Blocks) -> None:
    """A successful login clears the account's counter and does not count for the address:
    take back what `_admit` counted (conditional update: a block that another attempt has set
    since stays)."""
    c = login_throttle.c
    await uow.session.execute(delete(login_throttle).where(c.key == account_key))
    for key, (previous, charged) in blocks.items():
        if key == account_key:
            continue
        await uow.session.execute(update(login_throttle).where(c.key == key, c.failures > 0).values(
            failures=c.failures - 1,
            blocked_until=(c.blocked_until if charged is None else
                           case((c.blocked_until == charged, previous), else_=c.blocked_until))))


async def _new_refresh(uow: UnitOfWork, account_id: uuid.UUID, ttl_days: int) -> str:
    secret = new_secret()
    at = now()
    await uow.session.execute(insert(refresh_token).values(
        token_hash=digest(secret), account_id=account_id, created_at=at,
        expires_at=at + timedelta(days=ttl_days)))
    return secret


def _parent_claims(row: Any, family_name: str) -> dict[str, Any]:
    return {"sub": str(row.id), "kind": "parent", "family_id": str(row.family_id),
            "email": row.email, "name": family_name}


async def login(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, email: str,
                password: str, address: str | None) -> Tokens:
    """Three steps, no transaction open while Argon2 works (in a worker thread): throttling and
    the account's row; the password check; on success, the session (a new transaction)."""
    email = _email_or_refuse(email)
    account_key = f"account:{email.casefold()}"
    row, blocks = await _login_attempt(
        uow, account_key, address,
        select(account, family_t.c.name.label("family_name"))
        .join(family_t, family_t.c.id == account.c.family_id).where(account.c.email == email))
    active = row is not None and row.status == "active"
    if not await verify_password(row.password_hash if active else None, password):
        raise Unauthorized(BAD_CREDENTIALS)  # already counted by `_admit`
    async with uow:
        # Compare-and-set on the hash just verified (it also locks the account's row): a password
        # reset that committed meanwhile wins, and one that commits later revokes this session.
        still = await uow.session.execute(
            update(account).where(account.c.id == row.id, account.c.status == "active",
                                  account.c.password_hash == row.password_hash)
            .values(password_hash=account.c.password_hash))
        if still.rowcount != 1:
            raise Unauthorized(BAD_CREDENTIALS)
        await _succeeded(uow, account_key, blocks)
        refresh = await _new_refresh(uow, row.id, settings.refresh_token_ttl_days)
        await uow.commit()
    access = keys.sign(_parent_claims(row, row.family_name), settings.access_token_ttl_seconds)
    return Tokens(access, refresh, settings.access_token_ttl_seconds)


ROTATION_GRACE = timedelta(seconds=30)


async def refresh(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, token: str) -> Tokens:
    """Rotation: each refresh token works once; for a few seconds after its rotation it still
    works (two tabs refreshing at the same time must not log the family out), never after a
    logout or a password change."""
    refused = Unauthorized("Votre session a expiré ; reconnectez-vous.")
    at = now()
    async with uow:
        row = (await uow.session.execute(
            select(refresh_token.c.token_hash, refresh_token.c.revoked_at,
                   refresh_token.c.rotated_at, account, family_t.c.name.label("family_name"))
            .join(account, account.c.id == refresh_token.c.account_id)
            .join(family_t, family_t.c.id == account.c.family_id)
            .where(refresh_token.c.token_hash == digest(token), refresh_token.c.expires_at > at))
        ).first()
        if row is None or row.status != "active":
            raise refused
        in_grace = row.rotated_at is not None and at - row.rotated_at < ROTATION_GRACE
        if row.revoked_at is not None and not in_grace:
            raise refused
        if row.revoked_at is None:
            revoked = await uow.session.execute(
                update(refresh_token).where(refresh_token.c.token_hash == row.token_hash,
                                            refresh_token.c.revoked_at.is_(None))
                .values(revoked_at=at, rotated_at=at))
            if revoked.rowcount != 1:
                raise refused
        new_refresh = await _new_refresh(uow, row.id, settings.refresh_token_ttl_days)
        await uow.commit()
    access = keys.sign(_parent_claims(row, row.family_name), settings.access_token_ttl_seconds)
    return Tokens(access, new_refresh, settings.access_token_ttl_seconds)


async def logout(uow: UnitOfWork, token: str) -> None:
    async with uow:
        await uow.session.execute(
            update(refresh_token).where(refresh_token.c.token_hash == digest(token),
                                        refresh_token.c.revoked_at.is_(None))
            .values(revoked_at=now()))
        await uow.commit()


async def request_password_reset(uow: UnitOfWork, settings: IdentitySettings, email: str) -> None:
    """Never tells whether the address exists; sends the link only when it does."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return
    async with uow:
        row = (await uow.session.execute(select(account).where(account.c.email == email))).first()
        if row is None:
            return
        secret = await issue_one_time_token(uow, row.id, "reset",
                                            timedelta(minutes=settings.reset_ttl_minutes))
        await queue_email(uow, email, "reset", email=email, valid_minutes=settings.reset_ttl_minutes,
                          link=f"{settings.portal_url}/mot-de-passe/nouveau?jeton={secret}")
        await uow.commit()


async def _usable_token(uow: UnitOfWork, token: str, purpose: str) -> Any:
    row = (await uow.session.execute(
        select(one_time_token, account.c.email, account.c.status)
        .join(account, account.c.id == one_time_token.c.account_id)
        .where(one_time_token.c.token_hash == digest(token), one_time_token.c.purpose == purpose,
               one_time_token.c.used_at.is_(None), one_time_token.c.expires_at > now()))).first()
    if row is None:
        raise BadRequest(INVALID_LINK)
    return row


async def check_one_time_token(uow: UnitOfWork, token: str, purpose: str) -> str:
    async with uow:
        return (await _usable_token(uow, token, purpose)).email


async def set_password_with_token(uow: UnitOfWork, token: str, purpose: str, password: str) -> None:
    """Reset or invitation: the link works once, sets the password and activates the account."""
    async with uow:
        email = (await _usable_token(uow, token, purpose)).email
    check_password(password, email)
    password_hash = await hash_password(password)  # outside any transaction
    async with uow:
        row = await _usable_token(uow, token, purpose)
        used = await uow.session.execute(
            update(one_time_token).where(one_time_token.c.token_hash == row.token_hash,
                                         one_time_token.c.used_at.is_(None))
            .values(used_at=now()))
        if used.rowcount != 1:  # the same link used twice at once
            raise BadRequest(INVALID_LINK)
        await uow.session.execute(update(account).where(account.c.id == row.account_id).values(
            password_hash=password_hash, status="active",
            activated_at=func.coalesce(account.c.activated_at, now())))
        # A new password ends every open session of the account.
        await uow.session.execute(
            update(refresh_token).where(refresh_token.c.account_id == row.account_id,
                                        refresh_token.c.revoked_at.is_(None))
            .values(revoked_at=now()))
        await uow.commit()


async def signup(uow: UnitOfWork, family_name: str, email: str, password: str,
                 guardian: NewGuardian) -> uuid.UUID:
    """First sign-up: a new household, flagged for the structure to review."""
    email = normalise_email(email)
    check_password(password, email)
    password_hash = await hash_password(password)  # outside any transaction
    async with uow:
        if await email_taken(uow, email):
            raise Conflict("Un compte existe déjà pour cette adresse e-mail.", erreurs=[
                {"champ": "email", "message": "Un compte existe déjà pour cette adresse e-mail."}])
        family = await insert_household(uow, family_name, email, [guardian], [], needs_review=True)
        await insert_account(uow, family.id, email, password_hash)
        await uow.commit()
    return family.id


async def change_password(uow: UnitOfWork, kind: str, subject: uuid.UUID, current: str,
                          new: str) -> None:
    table = account if kind == "parent" else staff_account
    wrong = BadRequest("Le mot de passe actuel est incorrect.", erreurs=[
        {"champ": "current_password", "message": "Le mot de passe actuel est incorrect."}])
    async with uow:
        row = (await uow.session.execute(select(table).where(table.c.id == subject))).first()
    if row is None or not await verify_password(row.password_hash, current):
        raise wrong
    check_password(new, row.email, "new_password")
    new_hash = await hash_password(new)
    async with uow:
        # Compare-and-set on the hash just verified: of two changes at once, one wins.
        changed = await uow.session.execute(
            update(table).where(table.c.id == subject, table.c.password_hash == row.password_hash)
            .values(password_hash=new_hash))
        if changed.rowcount != 1:
            raise wrong
        await uow.commit()


async def ensure_staff_account(uow: UnitOfWork, email: str, password: str, display_name: str,
                               roles: list[str]) -> bool:
    """Idempotent (demo data, first administrator). True when the account was created."""
    email = normalise_email(email)
    async with uow:
        if await uow.session.scalar(select(staff_account.c.id).where(staff_account.c.email == email)):
            return False
    password_hash = await hash_password(password)  # outside any transaction
    async with uow:
        inserted = await uow.session.execute(
            _insert(uow)(staff_account).values(
                id=uuid.uuid4(), email=email, display_name=display_name,
                password_hash=password_hash, roles=" ".join(roles), created_at=now())
            .on_conflict_do_nothing(index_elements=["email"]))
        if inserted.rowcount != 1:
            return False
        await uow.commit()
        return True


async def staff_login(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, email: str,
                      password: str, address: str | None) -> Tokens:
    email = _email_or_refuse(email)
    account_key = f"staff:{email.casefold()}"
    row, blocks = await _login_attempt(uow, account_key, address,
                                       select(staff_account).where(staff_account.c.email == email))
    if not await verify_password(row.password_hash if row else None, password):
        raise Unauthorized(BAD_CREDENTIALS)  # already counted by `_admit`
    async with uow:
        await _succeeded(uow, account_key, blocks)
        await uow.commit()
    access = keys.sign({"sub": str(row.id), "kind": "staff", "roles": row.roles.split(),
                        "name": row.display_name, "email": row.email},
                       settings.access_token_ttl_seconds)
    return Tokens(access, None, settings.access_token_ttl_seconds)
