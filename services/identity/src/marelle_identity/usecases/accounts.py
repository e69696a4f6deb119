"""Accounts: login (throttled), refresh and logout, password reset, invitations, sign-up."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, update
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
from marelle_identity.usecases.common import digest, hasher, new_secret, now
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


def _verify(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        hasher.hash(password)  # same cost as a real check: timing tells nothing
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def _counter(uow: UnitOfWork, key: str) -> throttle.Counter | None:
    row = (await uow.session.execute(select(login_throttle).where(login_throttle.c.key == key))).first()
    return throttle.Counter(row.failures, row.window_started_at, row.blocked_until) if row else None


async def _save_counter(uow: UnitOfWork, key: str, counter: throttle.Counter) -> None:
    dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
    values = {"failures": counter.failures, "window_started_at": counter.window_started_at,
              "blocked_until": counter.blocked_until}
    await uow.session.execute(dialect.insert(login_throttle).values(key=key, **values)
                              .on_conflict_do_update(index_elements=["key"], set_=values))


async def _refuse_if_throttled(uow: UnitOfWork, keys: list[str]) -> None:
    at = now()
    waits = [w for k in keys if (w := throttle.wait_left(await _counter(uow, k), at))]
    if waits:
        wait = max(waits)
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise TooManyAttempts(
            f"Trop de tentatives de connexion : réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.", retry_after_seconds=math.ceil(wait.total_seconds()))


async def _record_failure(uow: UnitOfWork, account_key: str, address_key: str | None) -> None:
    at = now()
    await _save_counter(uow, account_key,
                        throttle.after_failure(await _counter(uow, account_key), throttle.ACCOUNT, at))
    if address_key:
        await _save_counter(uow, address_key, throttle.after_failure(
            await _counter(uow, address_key), throttle.ADDRESS, at))


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
    email = _email_or_refuse(email)
    account_key, address_key = f"account:{email.casefold()}", (f"address:{address}" if address else None)
    async with uow:
        await _refuse_if_throttled(uow, [k for k in (account_key, address_key) if k])
        row = (await uow.session.execute(
            select(account, family_t.c.name.label("family_name"))
            .join(family_t, family_t.c.id == account.c.family_id)
            .where(account.c.email == email))).first()
        if row is None or row.status != "active" or not _verify(row.password_hash, password):
            if row is None:
                _verify(None, password)
            await _record_failure(uow, account_key, address_key)
            await uow.commit()
            raise Unauthorized(BAD_CREDENTIALS)
        await uow.session.execute(delete(login_throttle).where(login_throttle.c.key == account_key))
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
        row = await _usable_token(uow, token, purpose)
        check_password(password, row.email)
        used = await uow.session.execute(
            update(one_time_token).where(one_time_token.c.token_hash == row.token_hash,
                                         one_time_token.c.used_at.is_(None))
            .values(used_at=now()))
        if used.rowcount != 1:  # the same link used twice at once
            raise BadRequest(INVALID_LINK)
        await uow.session.execute(update(account).where(account.c.id == row.account_id).values(
            password_hash=hasher.hash(password), status="active",
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
    async with uow:
        if await email_taken(uow, email):
            raise Conflict("Un compte existe déjà pour cette adresse e-mail.", erreurs=[
                {"champ": "email", "message": "Un compte existe déjà pour cette adresse e-mail."}])
        family = await insert_household(uow, family_name, email, [guardian], [], needs_review=True)
        await insert_account(uow, family.id, email, hasher.hash(password))
        await uow.commit()
    return family.id


async def change_password(uow: UnitOfWork, kind: str, subject: uuid.UUID, current: str,
                          new: str) -> None:
    table = account if kind == "parent" else staff_account
    async with uow:
        row = (await uow.session.execute(select(table).where(table.c.id == subject))).first()
        if row is None or not _verify(row.password_hash, current):
            raise BadRequest("Le mot de passe actuel est incorrect.", erreurs=[
                {"champ": "current_password", "message": "Le mot de passe actuel est incorrect."}])
        check_password(new, row.email, "new_password")
        await uow.session.execute(update(table).where(table.c.id == subject)
                                  .values(password_hash=hasher.hash(new)))
        await uow.commit()


async def ensure_staff_account(uow: UnitOfWork, email: str, password: str, display_name: str,
                               roles: list[str]) -> bool:
    """Idempotent (demo data, first administrator). True when the account was created."""
    email = normalise_email(email)
    async with uow:
        if await uow.session.scalar(select(staff_account.c.id).where(staff_account.c.email == email)):
            return False
        await uow.session.execute(insert(staff_account).values(
            id=uuid.uuid4(), email=email, display_name=display_name,
            password_hash=hasher.hash(password), roles=" ".join(roles), created_at=now()))
        await uow.commit()
        return True


async def staff_login(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, email: str,
                      password: str, address: str | None) -> Tokens:
    email = _email_or_refuse(email)
    account_key, address_key = f"staff:{email.casefold()}", (f"address:{address}" if address else None)
    async with uow:
        await _refuse_if_throttled(uow, [k for k in (account_key, address_key) if k])
        row = (await uow.session.execute(
            select(staff_account).where(staff_account.c.email == email))).first()
        if row is None or not _verify(row.password_hash, password):
            await _record_failure(uow, account_key, address_key)
            await uow.commit()
            raise Unauthorized(BAD_CREDENTIALS)
        await uow.session.execute(delete(login_throttle).where(login_throttle.c.key == account_key))
        await uow.commit()
    access = keys.sign({"sub": str(row.id), "kind": "staff", "roles": row.roles.split(),
                        "name": row.display_name, "email": row.email},
                       settings.access_token_ttl_seconds)
    return Tokens(access, None, settings.access_token_ttl_seconds)
