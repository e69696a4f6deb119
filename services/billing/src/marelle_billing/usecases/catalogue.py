"""QF brackets, régies and tariffs (staff). Plain async functions over a unit of work; French
errors."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import BadRequest, Conflict, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_billing.db import invoice, invoice_line, qf_bracket, regie, tariff, tariff_price
from marelle_billing.domain.pricing import BracketDef, PriceRow, TariffDef

UNKNOWN_REGIE = "Cette régie est inconnue."
UNKNOWN_TARIFF = "Ce tarif est inconnu."


# --- brackets -------------------------------------------------------------------------------------

async def _audit(uow: UnitOfWork, actor: Principal | None, action: str, target: str,
                 before: Any = None, after: Any = None) -> None:
    if actor is not None:  # the HTTP adapter always passes the staff member
        await audit(uow, actor, action, target, before, after)


async def load_brackets(uow: UnitOfWork) -> list[BracketDef]:
    rows = (await uow.session.execute(select(qf_bracket).order_by(qf_bracket.c.position))).all()
    return [BracketDef(r.code, r.label, r.qf_min, r.qf_max) for r in rows]


def _bracket_dict(b: BracketDef) -> dict[str, Any]:
    return {"code": b.code, "label": b.label, "qf_min": b.qf_min, "qf_max": b.qf_max}


async def brackets(uow: UnitOfWork) -> dict[str, Any]:
    async with uow:
        return {"brackets": [_bracket_dict(b) for b in await load_brackets(uow)]}


def check_brackets(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct codes, qf_min ≤ qf_max, no two brackets sharing a QF. Returned in QF order."""
    codes = [b["code"] for b in items]
    if len(set(codes)) != len(codes):
        raise InvalidInput("Deux tranches portent le même code.")
    for b in items:
        if b["qf_max"] is not None and b["qf_max"] < b["qf_min"]:
            raise InvalidInput(f"La tranche {b['code']} a un QF maximum inférieur à son QF "
                               "minimum.")
    ordered = sorted(items, key=lambda b: b["qf_min"])
    for prev, nxt in zip(ordered, ordered[1:]):
        if prev["qf_max"] is None or nxt["qf_min"] <= prev["qf_max"]:
            raise InvalidInput(f"Les tranches {prev['code']} et {nxt['code']} se chevauchent : "
                               "un quotient ne peut appartenir qu'à une tranche.")
    return ordered


async def replace_brackets(uow: UnitOfWork, items: list[dict[str, Any]],
                           actor: Principal | None = None) -> dict[str, Any]:
    ordered = check_brackets(items)
    view = {"brackets": [{k: b[k] for k in ("code", "label", "qf_min", "qf_max")}
                         for b in ordered]}
    async with uow:
        before = [_bracket_dict(b) for b in await load_brackets(uow)] if actor else None
        await uow.session.execute(delete(qf_bracket))
        await uow.session.execute(insert(qf_bracket), [
            {**b, "position": i} for i, b in enumerate(ordered)])
        await _audit(uow, actor, "tranches_qf.remplacees", "tranches_qf",
                     before={"brackets": before}, after=view)
        await uow.commit()
    return view


# --- régies ---------------------------------------------------------------------------------------

_REGIE_FIELDS = ("code", "name", "invoice_prefix", "credit_prefix", "partial_payment_allowed",
                 "due_days", "payment_backend", "creditor_name", "creditor_iban", "creditor_bic",
                 "creditor_id", "accounting_code")


def regie_view(row: Any) -> dict[str, Any]:
    return {"regie_id": row.regie_id, "version": row.version,
            **{k: getattr(row, k) for k in _REGIE_FIELDS}}


async def regie_by_code(uow: UnitOfWork, code: str) -> Any:
    row = (await uow.session.execute(select(regie).where(regie.c.code == code))).first()
    if row is None:
        raise NotFound(UNKNOWN_REGIE)
    return row


async def list_regies(uow: UnitOfWork) -> dict[str, Any]:
    async with uow:
        rows = (await uow.session.execute(select(regie).order_by(regie.c.code))).all()
    return {"regies": [regie_view(r) for r in rows]}


def _regie_values(body: dict[str, Any], now: datetime, creating: bool = False) -> dict[str, Any]:
    values = {k: body[k] for k in _REGIE_FIELDS}
    if body.get("payment_options") is not None:  # None: keep the stored options
        values["payment_options"] = json.dumps(body["payment_options"], sort_keys=True)
    elif creating:
        values["payment_options"] = "{}"
    values["updated_at"] = now
    return values


async def create_regie(uow: UnitOfWork, body: dict[str, Any], now: datetime,
                       actor: Principal | None = None) -> dict[str, Any]:
    async with uow:
        try:
            await uow.session.execute(insert(regie).values(
                regie_id=uuid.uuid4(), version=1, **_regie_values(body, now, creating=True)))
            await uow.session.flush()
        except IntegrityError:
            raise Conflict("Une régie porte déjà ce code.") from None
        row = await regie_by_code(uow, body["code"])
        # The view, never the body: payment options hold the provider's secrets.
        await _audit(uow, actor, "regie.creee", f"regie:{body['code']}", after=regie_view(row))
        await uow.commit()
    return regie_view(row)


async def update_regie(uow: UnitOfWork, code: str, body: dict[str, Any],
                       now: datetime, actor: Principal | None = None) -> dict[str, Any]:
    if body["code"] != code:
        raise BadRequest("Le code d'une régie ne change pas : il figure sur ses factures.")
    async with uow:
        was = (await uow.session.execute(select(regie).where(regie.c.code == code))).first()
        row = (await uow.session.execute(
            update(regie).where(regie.c.code == code)
            .values(**_regie_values(body, now), version=regie.c.version + 1)
            .returning(*regie.c))).first()
        if row is None or was is None:
            raise NotFound(UNKNOWN_REGIE)
        await _audit(uow, actor, "regie.modifiee", f"regie:{code}", before=regie_view(was),
                     after=regie_view(row))
        await uow.commit()
    return regie_view(row)


# --- tariffs --------------------------------------------------------------------------------------

def _tariff_view(row: Any, prices: list[Any]) -> dict[str, Any]:
    return {
        "tariff_id": row.tariff_id, "regie_code": row.regie_code,
        "activity_name": row.activity_name, "unit": row.unit, "label": row.label,
        "valid_from": row.valid_from, "valid_to": row.valid_to, "meal": row.meal,
        "unbooked_presence": row.unbooked_presence, "surcharge_cents": row.surcharge_cents,
        "unjustified_absence_percent": row.unjustified_absence_percent, "version": row.version,
        "prices": [{"bracket_code": p.bracket_code, "resident": p.resident,
                    "price_cents": p.price_cents} for p in prices]}


async def _tariffs(uow: UnitOfWork, *where: Any) -> list[dict[str, Any]]:
    rows = (await uow.session.execute(
        select(tariff, regie.c.code.label("regie_code"))
        .join(regie, regie.c.regie_id == tariff.c.regie_id).where(*where)
        .order_by(regie.c.code, tariff.c.activity_name, tariff.c.unit,
                  tariff.c.valid_from))).all()
    ids = [r.tariff_id for r in rows]
    prices: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    if ids:
        for p in (await uow.session.execute(
                select(tariff_price).where(tariff_price.c.tariff_id.in_(ids)))).all():
            prices[p.tariff_id].append(p)
    return [_tariff_view(r, sorted(prices[r.tariff_id], key=_price_order)) for r in rows]


def _price_order(p: Any) -> tuple:
    """Brackets in code order, the default price last; residents, non-residents, anyone."""
    return (p.bracket_code is None, p.bracket_code or "", p.resident is None, not p.resident)


async def list_tariffs(uow: UnitOfWork, regie_code: str | None,
                       activity: str | None) -> dict[str, Any]:
    where = []
    if regie_code:
        where.append(regie.c.code == regie_code)
    if activity:
        where.append(tariff.c.activity_name == activity)
    async with uow:
        return {"tariffs": await _tariffs(uow, *where)}


async def _check_tariff(uow: UnitOfWork, body: dict[str, Any], regie_id: uuid.UUID,
                        tariff_id: uuid.UUID | None) -> None:
    if body["valid_to"] is not None and body["valid_to"] < body["valid_from"]:
        raise InvalidInput("La fin de validité du tarif précède son début.")
    keys = [(p["bracket_code"], p["resident"]) for p in body["prices"]]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Deux prix portent sur la même tranche et la même résidence.")
    known = {b.code for b in await load_brackets(uow)}
    for code in {p["bracket_code"] for p in body["prices"]} - {None}:
        if code not in known:
            raise InvalidInput(f"La tranche {code} est inconnue.")
    # Pricing takes the one tariff valid on a day: two must not overlap.
    clash = [tariff.c.regie_id == regie_id, tariff.c.activity_name == body["activity_name"],
             tariff.c.unit == body["unit"]]
    if body["valid_to"] is not None:
        clash.append(tariff.c.valid_from <= body["valid_to"])
    clash.append((tariff.c.valid_to.is_(None)) | (tariff.c.valid_to >= body["valid_from"]))
    if tariff_id is not None:
        clash.append(tariff.c.tariff_id != tariff_id)
    if await uow.session.scalar(select(exists().where(*clash))):
        raise Conflict("Un autre tarif de cette régie couvre déjà ce créneau sur une partie de "
                       "ces dates : fermez-le d'abord (date de fin).")


def _tariff_values(body: dict[str, Any], regie_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {"regie_id": regie_id, "updated_at": now,
            **{k: body[k] for k in ("activity_name", "unit", "label", "valid_from", "valid_to",
                                    "meal", "unbooked_presence", "surcharge_cents",
                                    "unjustified_absence_percent")}}


async def _insert_prices(uow: UnitOfWork, tariff_id: uuid.UUID, prices: list[dict]) -> None:
    await uow.session.execute(insert(tariff_price), [
        {"price_id": uuid.uuid4(), "tariff_id": tariff_id, **p} for p in prices])


async def create_tariff(uow: UnitOfWork, body: dict[str, Any], now: datetime,
                        actor: Principal | None = None) -> dict[str, Any]:
    async with uow:
        reg = await regie_by_code(uow, body["regie_code"])
        await _check_tariff(uow, body, reg.regie_id, None)
        tariff_id = uuid.uuid4()
        await uow.session.execute(insert(tariff).values(
            tariff_id=tariff_id, version=1, **_tariff_values(body, reg.regie_id, now)))
        await _insert_prices(uow, tariff_id, body["prices"])
        view = (await _tariffs(uow, tariff.c.tariff_id == tariff_id))[0]
        await _audit(uow, actor, "tarif.cree", f"tarif:{tariff_id}", after=view)
        await uow.commit()
    return view


async def update_tariff(uow: UnitOfWork, tariff_id: uuid.UUID, body: dict[str, Any],
                        now: datetime, actor: Principal | None = None) -> dict[str, Any]:
    async with uow:
        found = await _tariffs(uow, tariff.c.tariff_id == tariff_id)
        if not found:
            raise NotFound(UNKNOWN_TARIFF)
        reg = await regie_by_code(uow, body["regie_code"])
        await _check_tariff(uow, body, reg.regie_id, tariff_id)
        done = (await uow.session.execute(
            update(tariff).where(tariff.c.tariff_id == tariff_id)
            .values(**_tariff_values(body, reg.regie_id, now), version=tariff.c.version + 1)
            .returning(tariff.c.version))).first()
        if done is None:
            raise NotFound(UNKNOWN_TARIFF)
        await uow.session.execute(delete(tariff_price).where(tariff_price.c.tariff_id == tariff_id))
        await _insert_prices(uow, tariff_id, body["prices"])
        view = (await _tariffs(uow, tariff.c.tariff_id == tariff_id))[0]
        await _audit(uow, actor, "tarif.modifie", f"tarif:{tariff_id}", before=found[0],
                     after=view)
        await uow.commit()
    return view


async def delete_tariff(uow: UnitOfWork, tariff_id: uuid.UUID,
                        actor: Principal | None = None) -> None:
    async with uow:
        row = (await uow.session.execute(select(tariff).where(tariff.c.tariff_id == tariff_id))
               ).first()
        if row is None:
            raise NotFound(UNKNOWN_TARIFF)
        # Lines do not name their tariff: one of the régie, for this activity and unit, on a
        # day the tariff covers, used it.
        used = [invoice.c.regie_id == row.regie_id,
                invoice_line.c.activity_name == row.activity_name,
                invoice_line.c.unit == row.unit, invoice_line.c.day >= row.valid_from]
        if row.valid_to is not None:
            used.append(invoice_line.c.day <= row.valid_to)
        if await uow.session.scalar(select(exists().select_from(
                invoice_line.join(invoice, invoice.c.invoice_id == invoice_line.c.invoice_id))
                .where(*used))):
            raise Conflict("Ce tarif a servi à des factures : il ne peut plus être supprimé. "
                           "Fermez-le plutôt (date de fin).")
        await uow.session.execute(delete(tariff_price).where(tariff_price.c.tariff_id == tariff_id))
        await uow.session.execute(delete(tariff).where(tariff.c.tariff_id == tariff_id))
        await _audit(uow, actor, "tarif.supprime", f"tarif:{tariff_id}",
                     before={"regie_id": row.regie_id, "activity_name": row.activity_name,
                             "unit": row.unit, "valid_from": row.valid_from,
                             "valid_to": row.valid_to})
        await uow.commit()


async def regie_tariffs(uow: UnitOfWork, regie_id: uuid.UUID) -> list[TariffDef]:
    """A régie's tariffs as pricing takes them (two queries)."""
    rows = (await uow.session.execute(
        select(tariff).where(tariff.c.regie_id == regie_id)
        .order_by(tariff.c.activity_name, tariff.c.unit, tariff.c.valid_from))).all()
    prices: dict[uuid.UUID, list[PriceRow]] = {r.tariff_id: [] for r in rows}
    if rows:
        for p in (await uow.session.execute(select(tariff_price).where(
                tariff_price.c.tariff_id.in_(list(prices))))).all():
            prices[p.tariff_id].append(PriceRow(p.bracket_code, p.resident, p.price_cents))
    return [TariffDef(r.tariff_id, r.activity_name, r.unit, r.label, r.valid_from, r.valid_to,
                      r.meal, r.unbooked_presence, r.surcharge_cents,
                      r.unjustified_absence_percent, tuple(prices[r.tariff_id])) for r in rows]
