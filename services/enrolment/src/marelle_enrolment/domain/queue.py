"""The opening queue's decision for one ticket: which of its children get a place. Pure Python.

A ticket asks one group for one or more children (brothers and sisters). Children the rules
refuse (age, an active registration, a window closed when the ticket arrived) get no registration;
the others take the free places in the family's order. « tout_ou_rien »: when the free places do
not cover every eligible child, none takes a place and all go on the waiting list together.
"""

from __future__ import annotations

from dataclasses import dataclass

from marelle_enrolment.domain.rules import Status, ValidationMode

TAKE_THE_REST = "prendre_le_reste"
ALL_OR_NOTHING = "tout_ou_rien"


@dataclass(frozen=True)
class Ask:
    """One child of a ticket; `refusal` is the rules' French reason when refused."""
    refusal: str | None = None


def allocate(asks: list[Ask], free_places: int, mode: ValidationMode, if_some_full: str
             ) -> list[Status | None]:
    """One status per ask (None: refused); places are taken in the asks' order."""
    eligible = sum(1 for a in asks if a.refusal is None)
    granted = Status.VALIDATED if mode is ValidationMode.AUTO else Status.PENDING
    if if_some_full == ALL_OR_NOTHING and eligible > free_places:
        free_places = 0
    out: list[Status | None] = []
    for ask in asks:
        if ask.refusal is not None:
            out.append(None)
        elif free_places > 0:
            out.append(granted)
            free_places -= 1
        else:
            out.append(Status.WAITLISTED)
    return out
