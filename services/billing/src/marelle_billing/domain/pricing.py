"""Pricing booking's facts (reservations, attendance) with a régie's tariffs and the family's QF
bracket. Pure functions over plain dataclasses: no database, no framework.

What a source (« r:<reservation_id> », « p:<attendance_id>:<unit> ») should cost is computed from
today's facts every time; an invoicing run bills the difference with what issued invoices already
billed for it (`billed_source`), so a late change becomes a regularisation and a re-run adds
nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from marelle_billing.domain.money import format_eur, share

# Reservation statuses (booking's vocabulary).
BOOKED, WAITING, CANCELLED = "reservee", "liste_attente", "annulee"
# Attendance statuses.
PRESENT, ABSENT_JUSTIFIED, ABSENT_UNJUSTIFIED, PRESENT_UNBOOKED = (
    "present", "absent_justifie", "absent_injustifie", "present_sans_reservation")


@dataclass(frozen=True)
class BracketDef:
    code: str
    label: str
    qf_min: int
    qf_max: int | None


@dataclass(frozen=True)
class PriceRow:
    bracket_code: str | None
    resident: bool | None
    price_cents: int


@dataclass(frozen=True)
class TariffDef:
    tariff_id: uuid.UUID
    activity_name: str
    unit: str
    label: str
    valid_from: date
    valid_to: date | None
    meal: bool
    unbooked_presence: bool
    surcharge_cents: int
    unjustified_absence_percent: int
    prices: tuple[PriceRow, ...] = ()

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class ProfileFacts:
    qf: int | None
    resident: bool = True


@dataclass(frozen=True)
class ReservationFact:
    reservation_id: uuid.UUID
    registration_id: uuid.UUID
    child_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    activity_name: str
    day: date
    unit: str
    unit_label: str
    status: str
    cancelled_by: str | None = None
    within_deadline: bool | None = None


@dataclass(frozen=True)
class AttendanceFact:
    attendance_id: uuid.UUID
    child_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    activity_name: str
    day: date
    status: str


@dataclass(frozen=True)
class Expected:
    """What one source should have cost (possibly 0: cancelled in time, justified absence…)."""

    source_key: str
    child_id: uuid.UUID
    child_name: str | None
    registration_id: uuid.UUID | None
    activity_name: str
    day: date
    unit: str
    label: str
    kind: str  # prestation | absence_injustifiee | majoration
    meal: bool
    unit_price_cents: int
    amount_cents: int


@dataclass(frozen=True)
class Anomaly:
    kind: str
    family_id: uuid.UUID | None
    detail: str
    child_id: uuid.UUID | None = None
    day: date | None = None


@dataclass(frozen=True)
class DraftLine:
    source_key: str
    child_id: uuid.UUID
    child_name: str | None
    registration_id: uuid.UUID | None
    activity_name: str
    day: date
    unit: str
    label: str
    kind: str
    meal: bool
    quantity: int
    unit_price_cents: int
    amount_cents: int


@dataclass
class FamilyPricing:
    lines: list[DraftLine] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def net_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def bracket_for(qf: int | None, brackets: Sequence[BracketDef]) -> BracketDef | None:
    """The bracket with qf_min ≤ QF ≤ qf_max (no qf_max: and above); None when the QF is unknown
    or falls in no bracket."""
    if qf is None:
        return None
    for b in brackets:
        if b.qf_min <= qf and (b.qf_max is None or qf <= b.qf_max):
            return b
    return None


def tariff_on(tariffs: Iterable[TariffDef], activity_name: str, unit: str,
              day: date) -> TariffDef | None:
    for t in tariffs:
        if t.activity_name == activity_name and t.unit == unit and t.valid_on(day):
            return t
    return None


def price_for(tariff: TariffDef, bracket_code: str | None, resident: bool) -> int | None:
    """The bracket's row, the family's residency first, else the row for anyone. A bracket the
    tariff does not price falls back to the default row (bracket_code NULL), as an unknown QF."""
    for code in dict.fromkeys((bracket_code, None)):
        rows = [p for p in tariff.prices if p.bracket_code == code]
        for wanted in (resident, None):
            for p in rows:
                if p.resident is wanted:
                    return p.price_cents
    return None


def _no_price(family_id: uuid.UUID, child_id: uuid.UUID, child_name: str | None,
              activity_name: str, day: date, unit: str) -> Anomaly:
    return Anomaly("sans_tarif", family_id,
                   f"Aucun tarif pour {child_name or 'un enfant'} le {day:%d/%m/%Y} "
                   f"(« {unit} », {activity_name}) : rien n'est facturé pour ce jour.",
                   child_id=child_id, day=day)


def expected_amounts(family_id: uuid.UUID, profile: ProfileFacts | None,
                     brackets: Sequence[BracketDef], tariffs: Sequence[TariffDef],
                     reservations: Sequence[ReservationFact],
                     attendances: Sequence[AttendanceFact],
                     child_names: dict[uuid.UUID, str]) -> tuple[list[Expected], list[Anomaly]]:
    """What each of a family's sources should cost, and what could not be priced."""
    qf = profile.qf if profile else None
    resident = profile.resident if profile else True
    bracket = bracket_for(qf, brackets)
    code = bracket.code if bracket else None
    out: list[Expected] = []
    anomalies: list[Anomaly] = []
    if qf is None and (reservations or attendances):
        anomalies.append(Anomaly("qf_inconnu", family_id,
                                 "Quotient familial inconnu : les tarifs par défaut sont "
                                 "appliqués."))
    # The roll call of a child on a day for a group (the latest recorded wins).
    roll = {(a.child_id, a.day, a.group_id): a.status for a in attendances}
    # Present-without-booking lines carry the registration of the child's bookings there.
    registration_of = {(r.child_id, r.period_id): r.registration_id for r in reservations}

    for r in reservations:
        name = child_names.get(r.child_id)
        tariff = tariff_on(tariffs, r.activity_name, r.unit, r.day)
        price = price_for(tariff, code, resident) if tariff else None
        if tariff is None or price is None:
            if r.status == BOOKED or (r.status == CANCELLED and r.cancelled_by == "famille"
                                      and not r.within_deadline):
                anomalies.append(_no_price(family_id, r.child_id, name, r.activity_name, r.day,
                                           r.unit))
            continue
        kind, amount = "prestation", 0
        if r.status == BOOKED:
            status = roll.get((r.child_id, r.day, r.group_id))
            if status == ABSENT_JUSTIFIED:
                amount = 0
            elif status == ABSENT_UNJUSTIFIED:
                kind, amount = "absence_injustifiee", share(price,
                                                            tariff.unjustified_absence_percent)
            else:
                amount = price
        elif r.status == CANCELLED:
            # A late cancellation by the family is billed; in time, or by the structure
            # (closure) or the registration (cancelled, refused), it is not.
            late = r.cancelled_by == "famille" and not r.within_deadline
            amount = price if late else 0
        out.append(Expected(
            source_key=f"r:{r.reservation_id}", child_id=r.child_id, child_name=name,
            registration_id=r.registration_id, activity_name=r.activity_name, day=r.day,
            unit=r.unit, label=r.unit_label or tariff.label, kind=kind, meal=tariff.meal,
            unit_price_cents=amount, amount_cents=amount))

    for a in attendances:
        if a.status != PRESENT_UNBOOKED:
            continue
        name = child_names.get(a.child_id)
        anomalies.append(Anomaly(
            "presence_sans_reservation", family_id,
            f"{name or 'Un enfant'} était présent le {a.day:%d/%m/%Y} sans réservation "
            f"({a.activity_name}) : majoration appliquée.", child_id=a.child_id, day=a.day))
        applicable = [t for t in tariffs if t.activity_name == a.activity_name
                      and t.unbooked_presence and t.valid_on(a.day)]
        if not applicable:
            anomalies.append(_no_price(family_id, a.child_id, name, a.activity_name, a.day,
                                       "présence sans réservation"))
        for t in applicable:
            price = price_for(t, code, resident)
            if price is None:
                anomalies.append(_no_price(family_id, a.child_id, name, a.activity_name, a.day,
                                           t.unit))
                continue
            amount = price + t.surcharge_cents
            out.append(Expected(
                source_key=f"p:{a.attendance_id}:{t.unit}", child_id=a.child_id, child_name=name,
                registration_id=registration_of.get((a.child_id, a.period_id)),
                activity_name=a.activity_name, day=a.day, unit=t.unit,
                label=f"{t.label} (présence sans réservation)", kind="majoration", meal=t.meal,
                unit_price_cents=amount, amount_cents=amount))
    return out, anomalies


def draft_lines(expected: Sequence[Expected], billed: dict[str, int],
                month_start: date) -> list[DraftLine]:
    """The lines a run adds: for each source, what it should cost minus what was already billed.
    A day before the month is a regularisation (same wording, the difference as amount)."""
    lines = []
    for e in expected:
        diff = e.amount_cents - billed.get(e.source_key, 0)
        if diff == 0:
            continue
        kind = e.kind if e.day >= month_start else "regularisation"
        # A plain line shows the unit price; a difference shows itself.
        unit_price = e.unit_price_cents if diff == e.amount_cents and kind != "regularisation" \
            else diff
        lines.append(DraftLine(
            source_key=e.source_key, child_id=e.child_id, child_name=e.child_name,
            registration_id=e.registration_id, activity_name=e.activity_name, day=e.day,
            unit=e.unit, label=e.label, kind=kind, meal=e.meal, quantity=1,
            unit_price_cents=unit_price, amount_cents=diff))
    lines.sort(key=lambda x: (x.day, x.child_name or "", x.unit, x.source_key))
    return lines


def regularisation_anomalies(family_id: uuid.UUID, lines: Sequence[DraftLine]) -> list[Anomaly]:
    return [Anomaly("regularisation", family_id,
                    f"Régularisation du {x.day:%d/%m/%Y} pour {x.child_name or 'un enfant'} "
                    f"(« {x.label} ») : {format_eur(x.amount_cents)}.",
                    child_id=x.child_id, day=x.day)
            for x in lines if x.kind == "regularisation"]


def concerning_the_run(anomalies: Sequence[Anomaly], drafted: Sequence[DraftLine],
                       month_start: date, month_end: date) -> list[Anomaly]:
    """What staff must review for this run: a fact of the month, a fact behind one of the lines
    drafted, and the family-wide notes when the family gets a draft. Earlier months' facts that
    bill nothing new were reported by their own run, not again on each later one."""
    days = {(x.child_id, x.day) for x in drafted}
    kept = []
    for a in anomalies:
        if a.day is not None:
            if month_start <= a.day <= month_end or (a.child_id, a.day) in days:
                kept.append(a)
        elif drafted:
            kept.append(a)
    return kept
