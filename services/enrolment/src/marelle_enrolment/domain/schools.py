"""School years, levels and the age-group checks made against the schools' class assignments.
Pure Python."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from marelle_enrolment.domain.rules import age_on, field_error, french_date

# The levels in school order, with the age a child normally reaches in the calendar year the
# school year starts (on 31 December): TPS 2 … CM2 10.
LEVEL_AGES = {"TPS": 2, "PS": 3, "MS": 4, "GS": 5, "CP": 6, "CE1": 7, "CE2": 8, "CM1": 9,
              "CM2": 10}
LEVEL_ORDER = {level: i for i, level in enumerate(LEVEL_AGES)}

_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


@dataclass(frozen=True)
class SchoolYear:
    first: int

    @classmethod
    def parse(cls, text: str) -> "SchoolYear":
        match = _YEAR.match(text or "")
        if not match or int(match[2]) != int(match[1]) + 1:
            raise field_error("school_year", "L'année scolaire s'écrit avec deux années qui se "
                              "suivent, par exemple 2026-2027.")
        return cls(int(match[1]))

    def __str__(self) -> str:
        return f"{self.first}-{self.first + 1}"

    @property
    def start(self) -> date:
        """1 September: the day the class list's ages are given on."""
        return date(self.first, 9, 1)

    @property
    def end(self) -> date:
        return date(self.first + 1, 8, 31)

    @property
    def reference_day(self) -> date:
        """31 December of the first year: the day a level's expected age is reached."""
        return date(self.first, 12, 31)


def sort_levels(levels: set[str] | list[str]) -> list[str]:
    return sorted(set(levels), key=lambda level: (LEVEL_ORDER.get(level, 99), level))


def _years(n: int) -> str:
    return f"{n} an{'s' if n > 1 else ''}"


@dataclass(frozen=True)
class Flag:
    kind: str  # age | niveau
    message: str


def age_group_flags(*, first_name: str | None, birth_date: date | None, level: str,
                    year: SchoolYear, group_label: str, min_age: int, max_age: int,
                    period_start: date) -> list[Flag]:
    """What staff should look at for one registration of a child with a school assignment.

    - « age »: the child's age at the period's start (the age enrolment checks when a family asks)
      is outside the group's ages, e.g. after a birth date was corrected or the group changed;
    - « niveau »: the age a child of that school level normally has (on 31 December of the school
      year's first year) is outside the group's ages: the child is probably in the wrong group.
    """
    flags: list[Flag] = []
    bounds = f"le groupe « {group_label} » accueille les enfants de {min_age} à {max_age} ans"
    if birth_date is not None:
        age = age_on(birth_date, period_start)
        if not min_age <= age <= max_age:
            who = first_name or "l'enfant"
            flags.append(Flag("age", f"Âge hors du groupe : {bounds} (âge au début de la "
                                     f"période, le {french_date(period_start)}) ; {who} a alors "
                                     f"{_years(age)}."))
    expected = LEVEL_AGES.get(level)
    if expected is not None and not min_age <= expected <= max_age:
        flags.append(Flag("niveau", f"Niveau scolaire et groupe ne concordent pas : {bounds}, "
                                    f"alors qu'un élève de {level} a normalement "
                                    f"{_years(expected)} au {french_date(year.reference_day)}."))
    return flags
