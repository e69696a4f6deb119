"""Staff views: occupancy per day × group × unit (table, CSV, SVG chart) and the day's list of
children per group (printable). Each is a fixed number of queries whatever the number of rows;
the chart is drawn in a worker thread, after the transaction is closed."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select

from marelle_chassis.domain_errors import InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_booking.db import (
    calendar,
    child_copy,
    day_capacity,
    day_slot,
    period_copy,
    registration_copy,
    reservation,
    unit_capacity,
)
from marelle_booking.usecases.common import calendar_from_row
from marelle_booking.usecases.shuttles import day_shuttles

BOOKED = "reservee"
WAITING = "liste_attente"
MAX_DAYS = 366
WEEKDAY_ABBR = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]


# --- shared reads ---------------------------------------------------------------------------

async def period_groups(uow: UnitOfWork, period_id: uuid.UUID) -> tuple[Any, dict[uuid.UUID, str]]:
    """The period (booking's copy) and its groups, in the catalogue's order: one query."""
    period = (await uow.session.execute(select(period_copy).where(
        period_copy.c.period_id == period_id))).first()
    if period is None:
        raise NotFound("Cette période est inconnue du service de réservation.")
    groups = {uuid.UUID(str(g["group_id"])): g["label"] for g in json.loads(period.groups or "[]")}
    return period, groups


async def calendar_units(uow: UnitOfWork, period_id: uuid.UUID) -> dict[str, str]:
    """unit code → label, in the grid's order (empty when the calendar is not configured)."""
    units = await uow.session.scalar(select(calendar.c.units).where(
        calendar.c.period_id == period_id))
    return {u["code"]: u.get("label") or u["code"] for u in json.loads(units or "[]")}


def opening_days(cal: Any, start: date, end: date) -> list[date]:
    """The calendar's opening days in [start, end], by the domain's rules (the same as the
    month grid's)."""
    return calendar_from_row(cal, start, end).opening_days


def french_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


# --- occupancy ------------------------------------------------------------------------------

async def occupancy(uow: UnitOfWork, period_id: uuid.UUID, start: date | None,
                    end: date | None) -> dict[str, Any]:
    """Places (capacity in force), booked and waiting per day × group × unit over [start, end]
    within the period: six queries, whatever the days, groups and children."""
    async with uow:
        s = uow.session
        period, groups = await period_groups(uow, period_id)
        cal = (await s.execute(select(calendar).where(calendar.c.period_id == period_id))).first()
        if cal is None:
            raise NotFound("Le calendrier de cette période n'est pas encore configuré.")
        start = max(start or period.start_date, period.start_date)
        end = min(end or period.end_date, period.end_date)
        if start > end:
            raise InvalidInput("La plage de dates demandée est vide ou hors de la période.")
        if (end - start).days >= MAX_DAYS:
            raise InvalidInput(f"Choisissez une plage d'au plus {MAX_DAYS} jours.")
        usual = {(r.group_id, r.unit): r.capacity for r in (await s.execute(
            select(unit_capacity).where(unit_capacity.c.period_id == period_id))).all()}
        in_range = (lambda c: c.between(start, end))
        by_day = {(r.day, r.group_id, r.unit): r.capacity for r in (await s.execute(
            select(day_capacity).where(day_capacity.c.period_id == period_id,
                                       in_range(day_capacity.c.day)))).all()}
        slots = {(r.day, r.group_id, r.unit): r.capacity for r in (await s.execute(
            select(day_slot.c.day, day_slot.c.group_id, day_slot.c.unit, day_slot.c.capacity)
            .where(day_slot.c.period_id == period_id, in_range(day_slot.c.day)))).all()}
        counts: dict[tuple[date, uuid.UUID, str], dict[str, int]] = defaultdict(dict)
        for r in (await s.execute(
                select(reservation.c.day, reservation.c.group_id, reservation.c.unit,
                       reservation.c.status, func.count().label("n"))
                .where(reservation.c.period_id == period_id, in_range(reservation.c.day),
                       reservation.c.status.in_((BOOKED, WAITING)))
                .group_by(reservation.c.day, reservation.c.group_id, reservation.c.unit,
                          reservation.c.status))).all():
            counts[(r.day, r.group_id, r.unit)][r.status] = r.n
    units = {u["code"]: u.get("label") or u["code"] for u in json.loads(cal.units or "[]")}
    all_groups = dict(groups)
    for _, group_id, _ in [*counts, *slots, *by_day]:
        all_groups.setdefault(group_id, "Groupe inconnu")
    all_units = list(units) + sorted({u for _, _, u in [*counts, *slots]} - set(units))
    days = sorted(set(opening_days(cal, start, end)) | {d for d, _, _ in counts} | {
        d for d, _, _ in slots})
    rows = []
    for day in days:
        for group_id, label in all_groups.items():
            for unit in all_units:
                key = (day, group_id, unit)
                capacity = slots.get(key, by_day.get(key, usual.get((group_id, unit))))
                n = counts.get(key, {})
                if capacity is None and not n:
                    continue  # neither places nor children: not offered to this group
                rows.append({"day": day, "group_id": group_id, "group_label": label,
                             "unit": unit, "capacity": capacity or 0,
                             "booked": n.get(BOOKED, 0), "waiting": n.get(WAITING, 0)})
    return {"period_id": period_id, "period_label": period.label, "start": start, "end": end,
            "unit_labels": {u: units.get(u, u) for u in all_units}, "rows": rows}


def occupancy_csv(data: dict[str, Any]) -> bytes:
    """For a spreadsheet: `;`-separated, UTF-8 with BOM, French headers."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Jour", "Groupe", "Créneau", "Places", "Réservés", "En attente"])
    for r in data["rows"]:
        writer.writerow([french_date(r["day"]), r["group_label"],
                         data["unit_labels"].get(r["unit"], r["unit"]), r["capacity"],
                         r["booked"], r["waiting"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _draw_svg(data: dict[str, Any], fmt: str = "svg") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in data["rows"]:
        panels.setdefault((r["group_label"], r["unit"]), []).append(r)
    title = (f"Occupation — {data['period_label']} (du {french_date(data['start'])} "
             f"au {french_date(data['end'])})")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "marelle"}):
        n = max(len(panels), 1)
        days = sorted({r["day"] for r in data["rows"]})
        width = min(max(6.0, 0.45 * len(days) + 2), 30.0)
        fig = Figure(figsize=(width, 2.6 * n + 0.8), layout="constrained")
        fig.suptitle(title)
        if not panels:
            ax = fig.subplots()
            ax.axis("off")
            ax.text(0.5, 0.5, "Aucun jour ouvert sur cette plage.", ha="center", va="center")
        axes = fig.subplots(n, 1, squeeze=False)[:, 0] if panels else []
        for ax, ((group, unit), rows) in zip(axes, panels.items()):
            index = {d: i for i, d in enumerate(days)}
            xs = [index[r["day"]] for r in rows]
            booked = [r["booked"] for r in rows]
            waiting = [r["waiting"] for r in rows]
            ax.bar(xs, booked, color="#2f5d8a", edgecolor="#1b3652", label="Réservés")
            # Hatched as well as coloured: no information by colour only.
            ax.bar(xs, waiting, bottom=booked, color="#f2b84b", edgecolor="#7a5a12", hatch="//",
                   label="En attente")
            ax.scatter(xs, [r["capacity"] for r in rows], marker="_", s=300, color="#b22222",
                       linewidths=2.5, label="Places", zorder=3)
            ax.set_title(f"{group} — {data['unit_labels'].get(unit, unit)}")
            ax.set_ylabel("Enfants")
            ax.set_xticks(range(len(days)))
            ax.set_xticklabels([f"{WEEKDAY_ABBR[d.weekday()]} {d:%d/%m}" for d in days],
                               rotation=60, ha="right", fontsize=8)
            ax.set_xlim(-0.6, len(days) - 0.4)
            ax.yaxis.get_major_locator().set_params(integer=True)
            top = max([r["capacity"] for r in rows] + [b + w for b, w in zip(booked, waiting)])
            ax.set_ylim(0, top * 1.35 + 1)  # room for the legend above the bars
            ax.legend(loc="upper left", ncol=3, fontsize=8)
        buffer = io.BytesIO()
        extra = {"metadata": {"Title": title, "Date": None}} if fmt == "svg" else {}
        fig.savefig(buffer, format=fmt, **extra)
    return buffer.getvalue()


async def occupancy_svg(data: dict[str, Any]) -> bytes:
    """The chart, drawn in a worker thread (matplotlib is CPU work): the loop stays free."""
    return await asyncio.to_thread(_draw_svg, data)


# --- the day's list of children (printable) --------------------------------------------------

async def day_list(uow: UnitOfWork, period_id: uuid.UUID, day: date) -> dict[str, Any]:
    """Children booked on the day per group, with their units (and the reservation of each, for
    staff to cancel one), the registration's memo as notes and their shuttle of the day: four
    queries, whatever the children."""
    async with uow:
        period, groups = await period_groups(uow, period_id)
        if not period.start_date <= day <= period.end_date:
            raise InvalidInput(f"Le {french_date(day)} est en dehors de la période "
                               f"« {period.label} ».")
        unit_labels = await calendar_units(uow, period_id)
        order = {code: i for i, code in enumerate(unit_labels)}
        rows = (await uow.session.execute(
            select(reservation.c.id.label("reservation_id"), reservation.c.child_id,
                   reservation.c.group_id, reservation.c.unit,
                   child_copy.c.first_name, child_copy.c.last_name,
                   registration_copy.c.memo, registration_copy.c.group_label)
            .select_from(reservation)
            .outerjoin(child_copy, child_copy.c.child_id == reservation.c.child_id)
            .outerjoin(registration_copy,
                       registration_copy.c.registration_id == reservation.c.registration_id)
            .where(reservation.c.period_id == period_id, reservation.c.day == day,
                   reservation.c.status == BOOKED))).all()
        shuttles = await day_shuttles(uow, period_id, day)
    labels = dict(groups)
    children: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        labels.setdefault(r.group_id, r.group_label or "Groupe inconnu")
        child = children[r.group_id].setdefault(r.child_id, {
            "child_id": r.child_id, "first_name": r.first_name or "",
            "last_name": r.last_name or "", "units": [], "notes": r.memo or "",
            "shuttle": shuttles.get(r.child_id), "reservations": []})
        child["units"].append(r.unit)
        child["reservations"].append({"reservation_id": r.reservation_id, "unit": r.unit,
                                      "unit_label": unit_labels.get(r.unit, r.unit)})
    out = []
    for group_id, label in labels.items():
        kids = sorted(children.get(group_id, {}).values(),
                      key=lambda c: (c["last_name"].casefold(), c["first_name"].casefold()))
        for c in kids:
            c["units"].sort(key=lambda u: (order.get(u, len(order)), u))
            c["reservations"].sort(key=lambda x: (order.get(x["unit"], len(order)), x["unit"]))
        out.append({"group_id": group_id, "label": label, "children": kids})
    return {"period_id": period_id, "day": day, "groups": out}
