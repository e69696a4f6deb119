"""Staff work on households: search, create and invite, change the email, review; the audit
log and the staff accounts."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.config import IdentitySettings
from marelle_identity.db import account, staff_account, staff_audit
from marelle_identity.db import family as family_t
from marelle_identity.db import person as person_t
from marelle_identity.domain.model import normalise_email
from marelle_identity.domain.passwords import check_password
from marelle_identity.notifications import queue_email
from marelle_identity.usecases.common import (
    audit,
    bump_version,
    contact_details,
    contact_event,
    contact_view,
    family_row,
    family_view,
    hash_password,
    now,
    refresh_search_key,
    search_text,
)
from marelle_identity.usecases import sessions
from marelle_identity.usecases.contact import request_view
from marelle_identity.usecases.households import (
    NewChild,
    NewGuardian,
    email_taken,
    insert_account,
    insert_household,
    issue_one_time_token,
)

ROLES = ("administrator", "manager")


async def search_families(uow: UnitOfWork, query: str, limit: int = 50,
                          needs_review: bool | None = None) -> list[dict[str, Any]]:
    words = search_text(query).split()
    async with uow:
        stmt = select(family_t).order_by(family_t.c.name).limit(limit)
        if needs_review is not None:
            stmt = stmt.where(family_t.c.needs_review == needs_review)
        for word in words:
            stmt = stmt.where(family_t.c.search_key.contains(word, autoescape=True))
        families = (await uow.session.execute(stmt)).all()
        children: dict[uuid.UUID, list[str]] = {}
        if families:
            rows = (await uow.session.execute(
                select(person_t.c.family_id, person_t.c.first_name, person_t.c.last_name)
                .where(person_t.c.family_id.in_([f.id for f in families]),
                       person_t.c.role == "child")
                .order_by(person_t.c.birth_date))).all()
            for r in rows:
                children.setdefault(r.family_id, []).append(f"{r.first_name} {r.last_name}")
    return [{"id": f.id, "name": f.name, "email": f.email, "needs_review": f.needs_review,
             "children": children.get(f.id, []), "created_at": f.created_at} for f in families]


async def family_detail(uow: UnitOfWork, family_id: uuid.UUID,
                        actor: Principal | None = None) -> dict[str, Any]:
    """With `actor`, the read is logged in the same transaction (GDPR)."""
    from marelle_identity.db import contact_change_request as ccr
    from marelle_identity.usecases import privacy

    async with uow:
        family = await family_view(uow, family_id)
        if actor is not None:
            await privacy.record_read(uow, actor, family_id, "fiche_foyer")
        reads = await privacy.reads(uow, family_id)
        anonymised_at = (await family_row(uow, family_id)).anonymised_at
        contact = await contact_view(uow, family_id)
        requests = (await uow.session.execute(select(ccr).where(ccr.c.family_id == family_id)
                                              .order_by(ccr.c.created_at.desc()))).all()
        acct = (await uow.session.execute(select(account).where(account.c.family_id == family_id))
                ).first()
        if actor is not None:
            await uow.commit()
    status = {"invited": "invitee", "active": "active"}.get(acct.status, "aucun") if acct else "aucun"
    return {"family": family, "contact": contact, "requests": [request_view(r) for r in requests],
            "account": {"status": status, "activated_at": acct.activated_at if acct else None},
            "reads": reads, "anonymised_at": anonymised_at}


async def _invite(uow: UnitOfWork, settings: IdentitySettings, account_id: uuid.UUID, email: str,
                  family_name: str) -> None:
    secret = await issue_one_time_token(uow, account_id, "invitation",
                                        timedelta(days=settings.invitation_ttl_days))
    await queue_email(uow, email, "invitation", family_name=family_name, email=email,
                      valid_days=settings.invitation_ttl_days,
                      link=f"{settings.portal_url}/invitation?jeton={secret}")


async def create_family(uow: UnitOfWork, actor: Principal, settings: IdentitySettings, name: str,
                        email: str, guardian: NewGuardian, children: list[NewChild]) -> uuid.UUID:
    email = normalise_email(email)
    async with uow:
        family = await insert_household(uow, name, email, [guardian], children,
                                        needs_review=False)
        account_id = await insert_account(uow, family.id, email, None)
        await _invite(uow, settings, account_id, email, family.name)
        await audit(uow, actor, "foyer.cree", f"foyer:{family.id}", name=family.name, email=email,
                    children=len(children))
        await uow.commit()
    return family.id


async def resend_invitation(uow: UnitOfWork, actor: Principal, settings: IdentitySettings,
                            family_id: uuid.UUID) -> None:
    async with uow:
        family = await family_row(uow, family_id)
        if not family.email:
            raise InvalidInput("Ce foyer n'a pas d'adresse e-mail : ajoutez-en une d'abord.")
        acct = (await uow.session.execute(select(account).where(account.c.family_id == family_id))
                ).first()
        if actor is not None:
            await uow.commit()
        account_id = acct.id if acct else await insert_account(uow, family_id, family.email, None)
        if acct and acct.status == "active":
            raise Conflict("Ce foyer a déjà activé son compte ; il peut utiliser « Mot de passe "
                           "oublié ? » s'il l'a perdu.")
        await _invite(uow, settings, account_id, family.email, family.name)
        await audit(uow, actor, "foyer.invitation", f"foyer:{family_id}", email=family.email)
        await uow.commit()


async def change_email(uow: UnitOfWork, actor: Principal, family_id: uuid.UUID,
                       new_email: str) -> dict[str, Any]:
    """The only way a household's email (and login identifier) changes."""
    email = normalise_email(new_email)
    async with uow:
        version = await bump_version(uow, family_id)  # locks the household until the commit
        family = await family_row(uow, family_id)
        if family.email == email:
            raise InvalidInput("C'est déjà l'adresse e-mail de ce foyer.")
        if await email_taken(uow, email, except_family=family_id):
            raise Conflict("Un foyer utilise déjà cette adresse e-mail.", erreurs=[
                {"champ": "email", "message": "Un foyer utilise déjà cette adresse e-mail."}])
        await uow.session.execute(update(family_t).where(family_t.c.id == family_id)
                                  .values(email=email))
        await uow.session.execute(update(account).where(account.c.family_id == family_id)
                                  .values(email=email))
        await refresh_search_key(uow, family_id)
        uow.publish(events.EmailChanged(family_id=family_id, old_email=family.email,
                                        new_email=email), version=version)
        # A second event about the same household: its own, higher version.
        uow.publish(contact_event(family_id, await contact_details(uow, family_id)),
                    version=await bump_version(uow, family_id))
        # The login changed: every session and pending link of the account ends.
        account_id = await uow.session.scalar(select(account.c.id)
                                              .where(account.c.family_id == family_id))
        if account_id is not None:
            await sessions.revoke(uow, "parent", account_id, "email_changed", links=True)
        for to in {e for e in (family.email, email) if e}:
            await queue_email(uow, to, "email_changed", family_name=family.name, new_email=email)
        await audit(uow, actor, "foyer.email_modifie", f"foyer:{family_id}",
                    before=family.email, after=email)
        view = await family_view(uow, family_id)
        await uow.commit()
    return view


async def mark_reviewed(uow: UnitOfWork, actor: Principal, family_id: uuid.UUID) -> None:
    async with uow:
        await family_row(uow, family_id)
        # Conditional: reviewed once, published once (a second click changes nothing).
        changed = (await uow.session.execute(
            update(family_t).where(family_t.c.id == family_id, family_t.c.needs_review.is_(True))
            .values(needs_review=False).returning(family_t.c.id))).first()
        if changed is not None:
            uow.publish(events.FamilyReviewed(family_id=family_id,
                                              reviewed_by=uuid.UUID(actor.subject)),
                        version=await bump_version(uow, family_id))
        await audit(uow, actor, "foyer.verifie", f"foyer:{family_id}")
        await uow.commit()


async def audit_log(uow: UnitOfWork, limit: int = 200) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(select(staff_audit).order_by(staff_audit.c.id.desc())
                                          .limit(limit))).all()
    return [{"at": r.at, "staff_id": r.staff_id, "staff_email": r.staff_email, "action": r.action,
             "target": r.target, "details": json.loads(r.details)} for r in rows]


async def staff_accounts(uow: UnitOfWork) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(select(staff_account).order_by(staff_account.c.email))).all()
    return [{"id": r.id, "email": r.email, "display_name": r.display_name,
             "roles": r.roles.split(), "disabled": r.disabled_at is not None,
             "must_change_password": r.must_change_password} for r in rows]


def _staff_not_found() -> NotFound:
    return NotFound("Ce compte du personnel est introuvable.")


def _not_yourself(actor: Principal, staff_id: uuid.UUID, what: str) -> None:
    # An administrator cannot lock themselves out (nor leave the structure without one).
    if actor.subject == str(staff_id):
        raise Conflict(f"Vous ne pouvez pas {what} votre propre compte ; demandez-le à un autre "
                       "administrateur.")


async def disable_staff_account(uow: UnitOfWork, actor: Principal, staff_id: uuid.UUID) -> None:
    """No more logins, and every session ends at once (`identity.sessions_revoked`)."""
    _not_yourself(actor, staff_id, "désactiver")
    async with uow:
        disabled = await uow.session.scalar(
            update(staff_account).where(staff_account.c.id == staff_id,
                                        staff_account.c.disabled_at.is_(None))
            .values(disabled_at=now()).returning(staff_account.c.id))
        if disabled is None:
            if await uow.session.scalar(select(staff_account.c.id)
                                        .where(staff_account.c.id == staff_id)) is None:
                raise _staff_not_found()
            return  # already disabled
        await sessions.revoke(uow, "staff", staff_id, "account_disabled")
        await audit(uow, actor, "agent.desactive", f"agent:{staff_id}")
        await uow.commit()


async def enable_staff_account(uow: UnitOfWork, actor: Principal, staff_id: uuid.UUID) -> None:
    async with uow:
        enabled = await uow.session.scalar(
            update(staff_account).where(staff_account.c.id == staff_id,
                                        staff_account.c.disabled_at.is_not(None))
            .values(disabled_at=None).returning(staff_account.c.id))
        if enabled is None:
            if await uow.session.scalar(select(staff_account.c.id)
                                        .where(staff_account.c.id == staff_id)) is None:
                raise _staff_not_found()
            return  # already enabled
        await audit(uow, actor, "agent.reactive", f"agent:{staff_id}")
        await uow.commit()


async def set_staff_roles(uow: UnitOfWork, actor: Principal, staff_id: uuid.UUID,
                          roles: list[str]) -> None:
    """The new roles hold at once: the account's sessions end (their tokens carry the roles)."""
    wanted = sorted(set(roles))
    if not wanted or set(wanted) - set(ROLES):
        raise InvalidInput("Choisissez au moins un rôle : administrateur ou gestionnaire.",
                           erreurs=[{"champ": "roles", "message": "Rôle inconnu ou manquant."}])
    if "administrator" not in wanted:
        _not_yourself(actor, staff_id, "retirer le rôle d'administrateur de")
    async with uow:
        before = await uow.session.scalar(
            select(staff_account.c.roles).where(staff_account.c.id == staff_id).with_for_update())
        if before is None:
            raise _staff_not_found()
        if sorted(before.split()) == wanted:
            return
        await uow.session.execute(update(staff_account).where(staff_account.c.id == staff_id)
                                  .values(roles=" ".join(wanted)))
        await sessions.revoke(uow, "staff", staff_id, "roles_changed")
        await audit(uow, actor, "agent.roles_modifies", f"agent:{staff_id}",
                    before=before.split(), after=wanted)
        await uow.commit()


async def create_staff_account(uow: UnitOfWork, actor: Principal, email: str, display_name: str,
                               password: str, roles: list[str]) -> uuid.UUID:
    email = normalise_email(email)
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise InvalidInput("Choisissez au moins un rôle : administrateur ou gestionnaire.",
                           erreurs=[{"champ": "roles", "message": "Rôle inconnu ou manquant."}])
    check_password(password, email)
    name = " ".join(display_name.split())
    if not name:
        raise InvalidInput("Le nom de l'agent est obligatoire.",
                           erreurs=[{"champ": "display_name", "message": "Ce champ est obligatoire."}])
    password_hash = await hash_password(password)  # outside any transaction
    async with uow:
        if await uow.session.scalar(select(staff_account.c.id).where(staff_account.c.email == email)):
            raise Conflict("Un agent utilise déjà cette adresse e-mail.")
        staff_id = uuid.uuid4()
        await uow.session.execute(insert(staff_account).values(
            id=staff_id, email=email, display_name=name, password_hash=password_hash,
            roles=" ".join(sorted(set(roles))), created_at=now()))
        await audit(uow, actor, "agent.cree", f"agent:{staff_id}", email=email, roles=roles)
        await uow.commit()
    return staff_id
