"""Enrolment rules: registration windows, age bounds, capacity and waiting lists. Pure Python."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from marelle_chassis.domain_errors import Conflict, InvalidInput

PARIS = ZoneInfo("Europe/Paris")


def field_error(field: str, message: str) -> InvalidInput:
    """An error the form shows by its field."""
    return InvalidInput(message, erreurs=[{"champ": field, "message": message}])


class Status(StrEnum):
    PENDING = "en_attente"
    VALIDATED = "validee"
    REFUSED = "refusee"
    CANCELLED = "annulee"
    WAITLISTED = "liste_attente"


ACTIVE = (Status.PENDING, Status.VALIDATED, Status.WAITLISTED)
# Statuses that hold a place in the group: a pending request keeps its place until staff decide.
HOLDS_A_PLACE = (Status.PENDING, Status.VALIDATED)


class ValidationMode(StrEnum):
    STAFF = "structure"
    AUTO = "automatique"


def paris(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class DistrictOpening:
    """A district's households (billing's district, copied) may ask from `opens_at`."""

    district: str
    label: str
    opens_at: datetime


@dataclass(frozen=True)
class Window:
    opens_at: datetime
    closes_at: datetime
    # Returning families (a validated registration on an earlier period of the same activity)
    # may ask from this moment on.
    priority_opens_at: datetime | None = None
    # Households living in the city (billing's residency) may ask from this moment on.
    residents_open_at: datetime | None = None
    # Districts at different times: a district's households may ask from its own moment on.
    district_openings: tuple[DistrictOpening, ...] = ()

    def __post_init__(self) -> None:
        if self.closes_at <= self.opens_at:
            raise field_error("closes_at", "La fermeture des inscriptions doit suivre leur ouverture.")
        if self.priority_opens_at and self.priority_opens_at >= self.opens_at:
            raise field_error("priority_opens_at",
                              "L'ouverture prioritaire doit précéder l'ouverture à tous.")
        if self.residents_open_at and self.residents_open_at >= self.opens_at:
            raise field_error("residents_open_at",
                              "L'ouverture aux résidents doit précéder l'ouverture à tous.")
        seen = set()
        for d in self.district_openings:
            if d.district in seen:
                raise field_error("district_openings", f"Le quartier {d.label} a deux "
                                  "ouvertures : gardez-en une seule.")
            seen.add(d.district)
            if d.opens_at >= self.opens_at:
                raise field_error("district_openings", f"L'ouverture du quartier {d.label} "
                                  "doit précéder l'ouverture à tous.")

    def district_opening(self, district: str | None) -> DistrictOpening | None:
        if district is None:
            return None
        return next((d for d in self.district_openings if d.district == district), None)

    def start_for(self, returning: bool = False, resident: bool = False,
                  district: str | None = None) -> datetime:
        """The earliest window the family belongs to."""
        starts = [self.opens_at]
        if returning and self.priority_opens_at:
            starts.append(self.priority_opens_at)
        if resident and self.residents_open_at:
            starts.append(self.residents_open_at)
        if own := self.district_opening(district):
            starts.append(own.opens_at)
        return min(starts)

    @property
    def earliest(self) -> datetime:
        """When the first families (of any window) may ask."""
        return min([self.start_for(returning=True, resident=True)]
                   + [d.opens_at for d in self.district_openings])

    def is_open(self, now: datetime, returning: bool = False, resident: bool = False,
                district: str | None = None) -> bool:
        return self.start_for(returning, resident, district) <= now < self.closes_at

    def check_open(self, now: datetime, period_label: str, returning: bool = False,
                   resident: bool = False, district: str | None = None) -> None:
        if self.is_open(now, returning, resident, district):
            return
        dates = f"du {paris(self.opens_at)} au {paris(self.closes_at)}"
        if now >= self.closes_at:
            raise InvalidInput(f"Les inscriptions pour « {period_label} » sont closes : "
                               f"elles étaient ouvertes {dates}.")
        # The earlier windows this family is not in, earliest first: when others may ask.
        early = []
        if self.priority_opens_at and not returning:
            early.append((self.priority_opens_at,
                          f"dès le {paris(self.priority_opens_at)} pour les familles déjà "
                          "inscrites l'an passé"))
        if self.residents_open_at and not resident:
            early.append((self.residents_open_at,
                          f"dès le {paris(self.residents_open_at)} pour les familles résidant "
                          "dans la commune"))
        extra = f" ({' ; '.join(text for _, text in sorted(early))})" if early else ""
        start = self.start_for(returning, resident, district)
        own = self.district_opening(district)
        if own is not None and own.opens_at == start:  # the family's district opens first
            dates = (f"dès le {paris(start)} pour les familles du quartier {own.label}, le "
                     f"vôtre, jusqu'au {paris(self.closes_at)}")
        elif start < self.opens_at:  # too early even for this family's own earlier window
            dates = f"pour vous dès le {paris(start)}, jusqu'au {paris(self.closes_at)}"
        raise InvalidInput(f"Les inscriptions pour « {period_label} » ne sont pas encore "
                           f"ouvertes : elles le seront {dates}{extra}.")


@lru_cache(maxsize=1024)
def district_openings_from_json(text: str | None) -> tuple[DistrictOpening, ...]:
    """A period's stored district openings (earliest first). Cached by the stored text: at an
    opening every submission checks the same period's window."""
    if not text:
        return ()
    return tuple(sorted((DistrictOpening(d["district"], d["district_label"],
                                         datetime.fromisoformat(d["opens_at"]))
                         for d in json.loads(text)), key=lambda d: (d.opens_at, d.label)))


def district_openings_to_json(openings: tuple[DistrictOpening, ...]) -> str | None:
    if not openings:
        return None
    return json.dumps([{"district": d.district, "district_label": d.label,
                        "opens_at": d.opens_at.isoformat()}
                       for d in sorted(openings, key=lambda d: (d.opens_at, d.label))],
                      ensure_ascii=False)


def period_window(p: Any) -> Window:
    """The window of a period row (`period` table)."""
    return Window(p.opens_at, p.closes_at, p.priority_opens_at, p.residents_open_at,
                  district_openings_from_json(p.district_openings))


def check_period_dates(start: date, end: date) -> None:
    if end < start:
        raise field_error("end_date", "La date de fin de la période doit suivre sa date de début.")


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _last_birth_date(day: date, age: int) -> date:
    """The latest birth date of a child `age` years old (or more) on `day`."""
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 February: the 28th of a common year
        return day.replace(year=day.year - age, day=28)


@dataclass(frozen=True)
class AgeBounds:
    min_age: int
    max_age: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_age <= self.max_age <= 25:
            raise field_error("max_age", "Les âges du groupe doivent aller de 0 à 25 ans, le "
                              "minimum avant le maximum.")

    def fits(self, birth_date: date, period_start: date) -> bool:
        return self.min_age <= age_on(birth_date, period_start) <= self.max_age

    def birth_dates(self, period_start: date) -> tuple[date, date]:
        """(after, until): `fits` ⇔ after < birth date <= until, for a query to test it."""
        return (_last_birth_date(period_start, self.max_age + 1),
                _last_birth_date(period_start, self.min_age))

    def check(self, first_name: str, birth_date: date, period_start: date, group_label: str) -> None:
        age = age_on(birth_date, period_start)
        if not self.min_age <= age <= self.max_age:
            raise InvalidInput(
                f"Le groupe « {group_label} » accueille les enfants de {self.min_age} à "
                f"{self.max_age} ans (âge au début de la période, le "
                f"{french_date(period_start)}) ; {first_name} aura alors {age} an"
                f"{'s' if age > 1 else ''}.")


def check_capacity(capacity: int) -> None:
    if capacity < 0 or capacity > 10_000:
        raise field_error("capacity", "La capacité du groupe doit être comprise entre 0 et "
                          "10 000 places.")


def status_for_new_request(capacity: int, places_taken: int, mode: ValidationMode) -> Status:
    """Within capacity: validated at once or pending staff; beyond: the waiting list."""
    if places_taken >= capacity:
        return Status.WAITLISTED
    return Status.VALIDATED if mode is ValidationMode.AUTO else Status.PENDING


def check_no_active_registration(existing_statuses: list[str]) -> None:
    if any(s in ACTIVE for s in existing_statuses):
        raise Conflict("Cet enfant a déjà une inscription en cours ou en attente sur cette "
                       "période.")


def check_can_decide(status: str) -> None:
    if status != Status.PENDING:
        raise Conflict("Cette demande a déjà été traitée.")


def check_can_cancel(status: str) -> None:
    if status not in ACTIVE:
        raise Conflict("Cette inscription est déjà annulée ou refusée.")


def status_mark(status: str, pre_registration: bool) -> str:
    """The guide's marks: V validated, ? not yet validated, ! pre-registration not validated."""
    if status == Status.VALIDATED:
        return "V"
    if status == Status.PENDING:
        return "!" if pre_registration else "?"
    return ""
