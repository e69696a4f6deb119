"""Accounts: login (throttled), refresh and logout, password reset, invitations, sign-up."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from marelle_chassis.domain_errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    Unauthorized,
)
from marelle_chassis.uow import UnitOfWork
from marelle_identity.config import IdentitySettings
from marelle_identity.db import account, one_time_token, refresh_token, staff_account
from marelle_identity.db import family as family_t
from marelle_identity.domain import throttle
from marelle_identity.domain.model import Family, Guardian, normalise_email
from marelle_identity.domain.passwords import check_password
from marelle_identity.keys import KeyRing
from marelle_identity.notifications import queue_email
from marelle_identity.secretbox import unseal
from marelle_identity.usecases import sessions, throttling, totp
from marelle_identity.usecases.throttling import Windows
from marelle_identity.usecases.common import (
    auth_event,
    auth_event_alone,
    digest,
    hash_password,
    new_secret,
    now,
    today_in_paris,
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


LOGIN = "de connexion"


def _login_keys(kind: str, email: str, address: str) -> tuple[str, str]:
    """The throttle's keys of a login: the account from this address, and the address."""
    return f"login:{kind}:{email.casefold()}@{address}", f"address:{address}"


async def _login_attempt(uow: UnitOfWork, keys: tuple[str, str], find: Any) -> tuple[Any, Windows]:
    """A short first transaction: the attempt is counted as a failure *before* the password is
    checked (attempts sent together cannot slip past the limit while being verified; a success
    takes it back), and the account's row is read."""
    limits = {keys[0]: throttle.LOGIN_ACCOUNT_ADDRESS, keys[1]: throttle.LOGIN_ADDRESS}
    async with uow:
        windows = await throttling.charge(uow, limits, LOGIN)
        row = (await uow.session.execute(find)).first()
        await uow.commit()
    return row, windows


async def _succeeded(uow: UnitOfWork, keys: tuple[str, str], windows: Windows) -> None:
    """A successful login clears the account-and-address counter and takes its attempt back
    from the address's counter."""
    await throttling.clear(uow, keys[0])
    await throttling.refund(uow, keys[1], windows[keys[1]])


async def _new_refresh(uow: UnitOfWork, account_id: uuid.UUID, session_id: uuid.UUID,
                       ttl_days: int) -> str:
    secret = new_secret()
    at = now()
    await uow.session.execute(insert(refresh_token).values(
        token_hash=digest(secret), account_id=account_id, session_id=session_id, created_at=at,
        expires_at=at + timedelta(days=ttl_days)))
    return secret


def _parent_claims(row: Any, family_name: str, session_id: uuid.UUID) -> dict[str, Any]:
    return {"sub": str(row.id), "kind": "parent", "family_id": str(row.family_id),
            "email": row.email, "name": family_name, "sid": str(session_id)}


async def login(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, email: str,
                password: str, address: str) -> Tokens:
    """Three steps, no transaction open while Argon2 works (in a worker thread): throttling and
    the account's row; the password check; on success, the session (a new transaction)."""
    email = _email_or_refuse(email)
    throttle_keys = _login_keys("parent", email, address)
    row, windows = await _login_attempt(
        uow, throttle_keys,
        select(account, family_t.c.name.label("family_name"))
        .join(family_t, family_t.c.id == account.c.family_id).where(account.c.email == email))
    usable = row is not None and row.status in ("active", "pending")
    # An unknown (or invited) account costs one Argon2 check too: timing tells nothing.
    if not await verify_password(row.password_hash if usable else None, password):
        await auth_event_alone(uow, "connexion.echouee", "parent", row.id if row else None, email,
                               adresse=address, motif="identifiants")
        raise Unauthorized(BAD_CREDENTIALS)  # already counted by `charge`
    if row.status == "pending":
        # Only who knows the password learns that the address awaits its confirmation.
        raise Forbidden(UNCONFIRMED, raison="adresse_a_confirmer")
    # Dated before the compare-and-set below: a revocation that waits for this login's lock
    # reads its clock later, so it covers this token (see `sessions.revoke`).
    issued_at = time.time()
    session_id = uuid.uuid4()
    async with uow:
        # Compare-and-set on the hash just verified (it also locks the account's row): a password
        # reset that committed meanwhile wins, and one that commits later revokes this session.
        still = await uow.session.execute(
            update(account).where(account.c.id == row.id, account.c.status == "active",
                                  account.c.password_hash == row.password_hash)
            .values(password_hash=account.c.password_hash))
        if still.rowcount != 1:
            raise Unauthorized(BAD_CREDENTIALS)
        await _succeeded(uow, throttle_keys, windows)
        await auth_event(uow, "connexion.reussie", "parent", row.id, email, adresse=address)
        refresh = await _new_refresh(uow, row.id, session_id, settings.refresh_token_ttl_days)
        await uow.commit()
    access = keys.sign(_parent_claims(row, row.family_name, session_id),
                       settings.access_token_ttl_seconds, issued_at)
    return Tokens(access, refresh, settings.access_token_ttl_seconds)


ROTATION_GRACE = timedelta(seconds=30)
SESSION_OVER = "Votre session a expiré ; reconnectez-vous."


async def refresh(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, token: str) -> Tokens:
    """Rotation: each refresh token works once; for a few seconds after its rotation it still
    works (two tabs refreshing at the same time must not log the family out), never after a
    logout or a password change. A rotated token presented after the grace period was copied:
    the whole session (its chain of refresh tokens and its access tokens) ends."""
    refused = Unauthorized(SESSION_OVER)
    at = now()
    async with uow:
        row = (await uow.session.execute(
            select(refresh_token.c.token_hash, refresh_token.c.revoked_at,
                   refresh_token.c.rotated_at, refresh_token.c.session_id, account,
                   family_t.c.name.label("family_name"))
            .join(account, account.c.id == refresh_token.c.account_id)
            .join(family_t, family_t.c.id == account.c.family_id)
            .where(refresh_token.c.token_hash == digest(token), refresh_token.c.expires_at > at))
        ).first()
        if row is None or row.status != "active":
            raise refused
        in_grace = row.rotated_at is not None and at - row.rotated_at < ROTATION_GRACE
        if row.revoked_at is not None and not in_grace:
            if row.rotated_at is not None:
                # Theft detection: the thief or the owner holds the newer token; end both.
                if await sessions.revoke(uow, "parent", row.id, "token_reuse",
                                         session_id=row.session_id, only_if_live=True):
                    await uow.commit()
            raise refused
        if row.revoked_at is not None and row.session_id is not None:
            # In the grace period, but the session may have ended since (logout, new password).
            live = await uow.session.scalar(
                select(refresh_token.c.token_hash).where(
                    refresh_token.c.session_id == row.session_id,
                    refresh_token.c.revoked_at.is_(None)).limit(1))
            if live is None:
                raise refused
        if row.revoked_at is None:
            revoked = await uow.session.execute(
                update(refresh_token).where(refresh_token.c.token_hash == row.token_hash,
                                            refresh_token.c.revoked_at.is_(None))
                .values(revoked_at=at, rotated_at=at))
            if revoked.rowcount != 1:
                raise refused
        # Tokens issued before sessions existed start one now.
        session_id = row.session_id or uuid.uuid4()
        new_refresh = await _new_refresh(uow, row.id, session_id, settings.refresh_token_ttl_days)
        await uow.commit()
    access = keys.sign(_parent_claims(row, row.family_name, session_id),
                       settings.access_token_ttl_seconds)
    return Tokens(access, new_refresh, settings.access_token_ttl_seconds)


async def logout(uow: UnitOfWork, token: str | None,
                 access_claims: dict[str, Any] | None) -> None:
    """Ends the session of a refresh token (the portal, the apps) or of an access token (the
    back-office's staff, who have no refresh token): at once, for every service."""
    async with uow:
        if token:
            row = (await uow.session.execute(
                select(refresh_token.c.account_id, refresh_token.c.session_id)
                .where(refresh_token.c.token_hash == digest(token)))).first()
            if row is not None and row.session_id is not None:
                await sessions.revoke(uow, "parent", row.account_id, "logout",
                                      session_id=row.session_id, only_if_live=True)
            elif row is not None:  # a token from before sessions: that token only
                await uow.session.execute(
                    update(refresh_token).where(refresh_token.c.token_hash == digest(token),
                                                refresh_token.c.revoked_at.is_(None))
                    .values(revoked_at=now()))
        if access_claims and access_claims.get("sid"):
            kind = str(access_claims.get("kind"))
            await sessions.revoke(uow, "staff" if kind == totp.SETUP_KIND else kind,
                                  uuid.UUID(str(access_claims["sub"])), "logout",
                                  session_id=uuid.UUID(str(access_claims["sid"])))
        await uow.commit()


async def request_password_reset(uow: UnitOfWork, settings: IdentitySettings, email: str,
                                 address: str) -> None:
    """Never tells whether the address exists; sends the link only when it does. Throttled per
    address and per address-and-email (each request may send an email)."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return
    async with uow:
        await throttling.charge(uow, {f"reset:{email.casefold()}@{address}":
                                      throttle.RESET_REQUEST_EMAIL,
                                      f"reset-address:{address}": throttle.RESET_REQUEST_ADDRESS},
                                "de réinitialisation")
        row = (await uow.session.execute(select(account).where(account.c.email == email))).first()
        if row is not None:
            secret = await issue_one_time_token(uow, row.id, "reset",
                                                timedelta(minutes=settings.reset_ttl_minutes))
            await queue_email(uow, email, "reset", email=email,
                              valid_minutes=settings.reset_ttl_minutes,
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


LINKS = "d'utilisation de liens"


async def check_one_time_token(uow: UnitOfWork, token: str, purpose: str, address: str) -> str:
    async with uow:
        await throttling.charge(uow, {f"link:{address}": throttle.LINK_ADDRESS}, LINKS)
        await uow.commit()
        return (await _usable_token(uow, token, purpose)).email


async def set_password_with_token(uow: UnitOfWork, token: str, purpose: str, password: str,
                                  address: str) -> None:
    """Reset or invitation: the link works once, sets the password and activates the account;
    a reset ends every session and spends every other pending link of the account."""
    async with uow:
        await throttling.charge(uow, {f"link:{address}": throttle.LINK_ADDRESS}, LINKS)
        await uow.commit()
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
        # A new password ends every open session of the account (an accepted invitation had
        # none: nothing to announce).
        if purpose == "reset":
            await sessions.revoke(uow, "parent", row.account_id, "password_reset", links=True)
        await auth_event(uow, "mot_de_passe.reinitialise" if purpose == "reset"
                         else "invitation.acceptee", "parent", row.account_id, row.email,
                         adresse=address)
        await uow.commit()


SIGNUP_RECEIVED = ("Demande d'inscription enregistrée. Si cette adresse peut être utilisée, un "
                   "e-mail vient de vous y être envoyé : ouvrez le lien qu'il contient pour "
                   "confirmer votre adresse et activer votre compte.")
UNCONFIRMED = ("Confirmez votre adresse e-mail avant de vous connecter : ouvrez le lien que nous "
               "vous avons envoyé lors de l'inscription.")
INVALID_SIGNUP_LINK = ("Ce lien de confirmation n'est plus valide : il a déjà servi ou il a "
                       "expiré. Inscrivez-vous de nouveau pour en recevoir un autre.")


async def _send_confirmation(uow: UnitOfWork, settings: IdentitySettings, account_id: uuid.UUID,
                             email: str) -> None:
    hours = settings.signup_confirmation_ttl_hours
    secret = await issue_one_time_token(uow, account_id, "signup", timedelta(hours=hours))
    await queue_email(uow, email, "signup_confirm", email=email, valid_hours=hours,
                      link=f"{settings.portal_url}/inscription/confirmer?jeton={secret}")


async def _tell_owner(uow: UnitOfWork, settings: IdentitySettings, email: str) -> None:
    await queue_email(uow, email, "signup_existing", email=email,
                      login_link=f"{settings.portal_url}/",
                      reset_link=f"{settings.portal_url}/mot-de-passe-oublie")


async def signup(uow: UnitOfWork, settings: IdentitySettings, family_name: str, email: str,
                 password: str, guardian: NewGuardian, address: str) -> str:
    """Online sign-up: a new household, flagged for the structure to review, and an account
    inactive until the address is confirmed by the emailed link.

    The answer (and the work done: one Argon2 hash, one email) is the same whether the address
    is new or already known, so the form tells nobody which addresses have an account: a known
    address's owner receives an email saying someone tried; an unconfirmed sign-up's address
    receives its link again (the password chosen first stays: a second sign-up cannot set the
    password of an account someone else is about to confirm)."""
    email = normalise_email(email)
    check_password(password, email)
    # Every rule the new household must pass, checked before anything is looked up: an invalid
    # form is refused the same way for a known address as for a new one.
    Family.new(family_name, email)
    Guardian.new(1, guardian.first_name, guardian.last_name, guardian.birth_date, guardian.sex,
                 today_in_paris())
    await throttling.charge_alone(uow, {f"signup:{address}": throttle.SIGNUP_ADDRESS,
                                        f"signup-email:{email}": throttle.SIGNUP_EMAIL},
                                  "d'inscription")
    password_hash = await hash_password(password)  # outside any transaction
    try:
        async with uow:
            known = (await uow.session.execute(
                select(account.c.id, account.c.status).where(account.c.email == email))).first()
            if known is None and not await email_taken(uow, email):
                family = await insert_household(uow, family_name, email, [guardian], [],
                                                needs_review=True)
                account_id = await insert_account(uow, family.id, email, password_hash,
                                                  pending=True)
                await _send_confirmation(uow, settings, account_id, email)
            elif known is not None and known.status == "pending":
                await _send_confirmation(uow, settings, known.id, email)
            else:
                await _tell_owner(uow, settings, email)
            await uow.commit()
    except IntegrityError:
        # The same address signed up at the same moment and the other request won: its owner is
        # told, this one gets the same answer.
        async with uow:
            await _tell_owner(uow, settings, email)
            await uow.commit()
    return SIGNUP_RECEIVED


async def confirm_signup(uow: UnitOfWork, token: str, address: str) -> None:
    """The sign-up's link: works once, activates the account (the household stays to be
    reviewed by the structure)."""
    async with uow:
        await throttling.charge(uow, {f"link:{address}": throttle.LINK_ADDRESS}, LINKS)
        await uow.commit()
    async with uow:
        try:
            row = await _usable_token(uow, token, "signup")
        except BadRequest:
            raise BadRequest(INVALID_SIGNUP_LINK) from None
        used = await uow.session.execute(
            update(one_time_token).where(one_time_token.c.token_hash == row.token_hash,
                                         one_time_token.c.used_at.is_(None))
            .values(used_at=now()))
        activated = await uow.session.execute(
            update(account).where(account.c.id == row.account_id, account.c.status == "pending")
            .values(status="active", activated_at=now()))
        if used.rowcount != 1 or activated.rowcount != 1:  # the same link used twice at once
            raise BadRequest(INVALID_SIGNUP_LINK)
        await uow.commit()


async def create_active_family(uow: UnitOfWork, family_name: str, email: str, password: str,
                               guardian: NewGuardian) -> uuid.UUID:
    """A household with an active account at once (the demo data only): Conflict when the
    address is taken."""
    email = normalise_email(email)
    password_hash = await hash_password(password)
    async with uow:
        family = await insert_household(uow, family_name, email, [guardian], [], needs_review=True)
        await insert_account(uow, family.id, email, password_hash)
        await uow.commit()
    return family.id


def _wrong_current() -> BadRequest:
    return BadRequest("Le mot de passe actuel est incorrect.", erreurs=[
        {"champ": "current_password", "message": "Le mot de passe actuel est incorrect."}])


async def change_password(uow: UnitOfWork, kind: str, subject: uuid.UUID, current: str,
                          new: str) -> None:
    """Needs the current password (throttled per account); ends every session of the account,
    this one included, and spends its pending links."""
    table = account if kind == "parent" else staff_account
    key = f"password:{kind}:{subject}"
    async with uow:
        await throttling.charge(uow, {key: throttle.PASSWORD_CHANGE}, "de changement de mot de passe")
        row = (await uow.session.execute(select(table).where(table.c.id == subject))).first()
        await uow.commit()
    if not await verify_password(row.password_hash if row else None, current):
        if row is not None:
            await auth_event_alone(uow, "mot_de_passe.echec", kind, row.id, row.email)
        raise _wrong_current()
    check_password(new, row.email, "new_password")
    await _set_new_password(uow, kind, row, new, key)


async def _set_new_password(uow: UnitOfWork, kind: str, row: Any, new: str, throttle_key: str,
                            extra_throttle: tuple[str, Windows] | None = None) -> None:
    table = account if kind == "parent" else staff_account
    new_hash = await hash_password(new)
    values: dict[str, Any] = {"password_hash": new_hash}
    if kind == "staff":
        values["must_change_password"] = False
    async with uow:
        # Compare-and-set on the hash just verified: of two changes at once, one wins.
        changed = await uow.session.execute(
            update(table).where(table.c.id == row.id, table.c.password_hash == row.password_hash)
            .values(**values))
        if changed.rowcount != 1:
            raise _wrong_current()
        await throttling.clear(uow, throttle_key)
        if extra_throttle:
            await throttling.refund(uow, extra_throttle[0], extra_throttle[1][extra_throttle[0]])
        await sessions.revoke(uow, kind, row.id, "password_changed", links=True)
        await auth_event(uow, "mot_de_passe.modifie", kind, row.id, row.email)
        await uow.commit()


async def ensure_staff_account(uow: UnitOfWork, email: str, password: str, display_name: str,
                               roles: list[str], must_change_password: bool = False) -> bool:
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
                password_hash=password_hash, roles=" ".join(roles), created_at=now(),
                must_change_password=must_change_password)
            .on_conflict_do_nothing(index_elements=["email"]))
        if inserted.rowcount != 1:
            return False
        await uow.commit()
        return True


MUST_CHANGE = ("Changez votre mot de passe : celui-ci a été attribué pour la première connexion "
               "et doit être remplacé avant d'accéder à l'espace du personnel.")
DISABLED = "Ce compte du personnel est désactivé ; adressez-vous à un administrateur."


async def _verified_staff(uow: UnitOfWork, email: str, password: str, address: str,
                          what: str = "connexion.echouee") -> tuple[Any, tuple[str, str], Windows]:
    email = _email_or_refuse(email)
    throttle_keys = _login_keys("staff", email, address)
    row, windows = await _login_attempt(uow, throttle_keys,
                                        select(staff_account).where(staff_account.c.email == email))
    if not await verify_password(row.password_hash if row else None, password):
        await auth_event_alone(uow, what, "staff" if row else "inconnu", row.id if row else None,
                               email, adresse=address, motif="identifiants")
        raise Unauthorized(BAD_CREDENTIALS)  # already counted by `charge`
    return row, throttle_keys, windows


TOTP_NEEDED = ("Saisissez le code de vérification à six chiffres affiché par votre application "
               "d'authentification.")
TOTP_WRONG = "Le code de vérification est incorrect ou a expiré ; saisissez le code affiché."
TOTP_TO_SET_UP = ("La double authentification est obligatoire pour les administrateurs : "
                  "configurez-la avec une application d'authentification pour accéder à l'espace "
                  "du personnel.")


async def staff_login(uow: UnitOfWork, keys: KeyRing, settings: IdentitySettings, email: str,
                      password: str, address: str, totp_code: str | None = None) -> Tokens:
    """Password, then the second factor when the account has one: a missing or wrong code is
    refused like a wrong password (the attempt `charge` counted is not taken back)."""
    row, throttle_keys, windows = await _verified_staff(uow, email, password, address)
    step = None
    if row.totp_secret is not None:
        step = totp.matching_step(unseal(settings.totp_key, row.totp_secret), totp_code)
        if step is None:
            await auth_event_alone(uow, "connexion.echouee", "staff", row.id, row.email,
                                   adresse=address,
                                   motif="code_totp_errone" if totp_code else "code_totp_absent")
            raise Unauthorized(TOTP_WRONG if totp_code else TOTP_NEEDED, raison="code_totp_requis")
    issued_at = time.time()  # before the compare-and-set: see `login`
    c = staff_account.c
    async with uow:
        # The account as it is now (locked): disabled, given a new password or a new second
        # factor meanwhile, no; and the code is spent (a code already used is refused).
        conditions = [c.id == row.id, c.password_hash == row.password_hash]
        values: dict[str, Any] = {"password_hash": c.password_hash}
        if step is not None:
            conditions += [c.totp_secret == row.totp_secret,
                           or_(c.totp_last_step.is_(None), c.totp_last_step < step)]
            values["totp_last_step"] = step
        else:
            conditions.append(c.totp_secret.is_(None))
        current = (await uow.session.execute(
            update(staff_account).where(*conditions).values(**values)
            .returning(c.disabled_at, c.must_change_password, c.roles))).first()
        if current is not None:
            await _succeeded(uow, throttle_keys, windows)
            refusal = ("compte_desactive" if current.disabled_at is not None else
                       "mot_de_passe_a_changer" if current.must_change_password else None)
            await auth_event(uow, "connexion.reussie" if refusal is None else "connexion.refusee",
                             "staff", row.id, row.email, adresse=address,
                             double_facteur=step is not None,
                             **({"motif": refusal} if refusal else {}))
            await uow.commit()
    if current is None:  # changed since the check, or this code was just used (replayed)
        await auth_event_alone(uow, "connexion.echouee", "staff", row.id, row.email,
                               adresse=address, motif="code_totp_deja_utilise"
                               if step is not None else "compte_modifie")
        if step is not None:
            raise Unauthorized(TOTP_WRONG, raison="code_totp_requis")
        raise Unauthorized(BAD_CREDENTIALS)
    if current.disabled_at is not None:
        raise Forbidden(DISABLED)
    if current.must_change_password:
        raise Forbidden(MUST_CHANGE, raison="mot_de_passe_a_changer")
    roles = current.roles.split()
    if step is None and settings.totp_required_for_admins and "administrator" in roles:
        # A token for the enrolment routes only (see `totp.SETUP_KIND`), short-lived: the
        # administrator sets the second factor up, then logs in again with a code.
        setup = keys.sign({"sub": str(row.id), "kind": totp.SETUP_KIND, "email": row.email,
                           "name": row.display_name, "sid": str(uuid.uuid4())},
                          totp.SETUP_TTL_SECONDS, issued_at)
        raise Forbidden(TOTP_TO_SET_UP, raison="totp_a_configurer", jeton_configuration=setup,
                        expires_in=totp.SETUP_TTL_SECONDS)
    access = keys.sign({"sub": str(row.id), "kind": "staff", "roles": roles,
                        "name": row.display_name, "email": row.email, "sid": str(uuid.uuid4())},
                       settings.access_token_ttl_seconds, issued_at)
    return Tokens(access, None, settings.access_token_ttl_seconds)


async def staff_change_password(uow: UnitOfWork, email: str, current: str, new: str,
                                address: str) -> None:
    """Without a session (a one-time password opens none): the email and the current password,
    throttled like a login."""
    try:
        row, throttle_keys, windows = await _verified_staff(uow, email, current, address,
                                                            "mot_de_passe.echec")
    except Unauthorized:
        raise _wrong_current() from None
    if row.disabled_at is not None:
        raise Forbidden(DISABLED)
    check_password(new, row.email, "new_password")
    if await verify_password(row.password_hash, new):
        problem = "Choisissez un mot de passe différent de l'actuel."
        raise InvalidInput(problem, erreurs=[{"champ": "new_password", "message": problem}])
    await _set_new_password(uow, "staff", row, new, throttle_keys[0],
                            (throttle_keys[1], windows))
