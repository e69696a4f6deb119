"""The staff's optional second factor: TOTP codes (RFC 6238) from an authenticator application.

Enrolment in two steps: `setup` draws a secret (kept pending) and gives it with its otpauth URI;
`confirm` activates it once a first code proves the application holds it. Removing it needs a
valid code too (a stolen session alone cannot turn it off). A code is accepted once only
(`totp_last_step`, compared-and-set in SQL), in a window of ±1 step (30 s) for clock drift.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

import pyotp
from sqlalchemy import or_, select, update

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_identity.config import IdentitySettings
from marelle_identity.db import staff_account
from marelle_identity.secretbox import seal, unseal
from marelle_identity.domain import throttle
from marelle_identity.usecases import sessions, throttling
from marelle_identity.usecases.common import auth_event

STEP = 30
DRIFT_STEPS = 1
# The kind of the restricted token an administrator gets when the city requires a second factor
# they have not set up yet: it opens the enrolment routes and nothing else (no service treats it
# as staff, since `Principal.is_staff` is `kind == "staff"`).
SETUP_KIND = "staff_totp_setup"
SETUP_TTL_SECONDS = 600

WRONG_CODE = "Le code de vérification est incorrect ou a expiré."
ALREADY = ("La double authentification est déjà activée sur ce compte ; retirez-la d'abord pour "
           "en configurer une nouvelle.")
NOTHING_PENDING = ("Aucune configuration en cours : commencez par « Configurer la double "
                   "authentification ».")
NOT_ENABLED = "La double authentification n'est pas activée sur ce compte."
REQUIRED = ("La double authentification est obligatoire pour les administrateurs de cette "
            "structure : elle ne peut pas être retirée.")


def matching_step(secret: str, code: str | None, at: float | None = None) -> int | None:
    """The time step whose code is `code` (within the drift allowed), or None."""
    if not code:
        return None
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int((time.time() if at is None else at) // STEP)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate compared in constant time: no early exit tells which one matched.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _wrong_code() -> InvalidInput:
    return InvalidInput(WRONG_CODE, erreurs=[{"champ": "code", "message": WRONG_CODE}])


def _not_found() -> NotFound:
    return NotFound("Ce compte du personnel est introuvable.")


async def _row(uow: UnitOfWork, staff_id: uuid.UUID) -> Any:
    row = (await uow.session.execute(select(staff_account).where(staff_account.c.id == staff_id))
           ).first()
    if row is None or row.disabled_at is not None:
        raise _not_found()
    return row


async def status(uow: UnitOfWork, actor: Principal, settings: IdentitySettings) -> dict[str, Any]:
    async with uow:
        row = await _row(uow, uuid.UUID(actor.subject))
    return {"enabled": row.totp_secret is not None,
            "pending": row.totp_pending_secret is not None,
            "required": settings.totp_required_for_admins and "administrator" in row.roles.split()}


async def setup(uow: UnitOfWork, actor: Principal, settings: IdentitySettings) -> dict[str, str]:
    """A new secret, pending until confirmed (drawing again replaces a pending one)."""
    staff_id = uuid.UUID(actor.subject)
    secret = pyotp.random_base32()
    async with uow:
        row = (await uow.session.execute(
            update(staff_account).where(staff_account.c.id == staff_id,
                                        staff_account.c.disabled_at.is_(None),
                                        staff_account.c.totp_secret.is_(None))
            .values(totp_pending_secret=seal(settings.totp_key, secret))
            .returning(staff_account.c.email))).first()
        if row is None:
            await _row(uow, staff_id)  # 404 when unknown or disabled
            raise Conflict(ALREADY)
        await uow.commit()
    uri = pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=row.email,
                                                             issuer_name=settings.totp_issuer)
    return {"secret": secret, "otpauth_uri": uri}


async def _charge(uow: UnitOfWork, staff_id: uuid.UUID) -> None:
    # Codes are six digits: guessing them is throttled like a password.
    await throttling.charge(uow, {f"totp:{staff_id}": throttle.PASSWORD_CHANGE},
                            "de saisie du code de vérification")


async def confirm(uow: UnitOfWork, actor: Principal, settings: IdentitySettings, code: str,
                  session_id: uuid.UUID | None) -> None:
    """Activates the pending secret with a first valid code. The restricted enrolment token's
    session (`session_id`) ends: the next login asks for a code."""
    staff_id = uuid.UUID(actor.subject)
    async with uow:
        await _charge(uow, staff_id)
        row = await _row(uow, staff_id)
        await uow.commit()
    if row.totp_secret is not None:
        raise Conflict(ALREADY)
    if row.totp_pending_secret is None:
        raise Conflict(NOTHING_PENDING)
    step = matching_step(unseal(settings.totp_key, row.totp_pending_secret), code)
    if step is None:
        raise _wrong_code()
    async with uow:
        # Compare-and-set on the secret the code was checked against (a new `setup` meanwhile
        # replaced it: refused).
        done = await uow.session.execute(
            update(staff_account).where(
                staff_account.c.id == staff_id,
                staff_account.c.totp_secret.is_(None),
                staff_account.c.totp_pending_secret == row.totp_pending_secret)
            .values(totp_secret=row.totp_pending_secret, totp_pending_secret=None,
                    totp_last_step=step))
        if done.rowcount != 1:
            raise _wrong_code()
        await throttling.clear(uow, f"totp:{staff_id}")
        await auth_event(uow, "agent.totp_active", "staff", staff_id, row.email)
        if session_id is not None and actor.kind == SETUP_KIND:
            await sessions.revoke(uow, "staff", staff_id, "totp_enabled", session_id=session_id)
        await uow.commit()


async def remove(uow: UnitOfWork, actor: Principal, settings: IdentitySettings, code: str) -> None:
    """Turns the second factor off, with a valid code (not when the city requires it)."""
    staff_id = uuid.UUID(actor.subject)
    async with uow:
        await _charge(uow, staff_id)
        row = await _row(uow, staff_id)
        await uow.commit()
    if row.totp_secret is None:
        raise Conflict(NOT_ENABLED)
    if settings.totp_required_for_admins and "administrator" in row.roles.split():
        raise Conflict(REQUIRED)
    step = matching_step(unseal(settings.totp_key, row.totp_secret), code)
    if step is None:
        raise _wrong_code()
    async with uow:
        done = await uow.session.execute(
            update(staff_account).where(
                staff_account.c.id == staff_id,
                staff_account.c.totp_secret == row.totp_secret,
                or_(staff_account.c.totp_last_step.is_(None),
                    staff_account.c.totp_last_step < step))
            .values(totp_secret=None, totp_pending_secret=None, totp_last_step=None))
        if done.rowcount != 1:
            raise _wrong_code()
        await throttling.clear(uow, f"totp:{staff_id}")
        await auth_event(uow, "agent.totp_retire", "staff", staff_id, row.email)
        await uow.commit()
