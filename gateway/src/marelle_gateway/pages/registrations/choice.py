"""The chained choice of « Demander une nouvelle inscription », resolved on the server.

Équipement → type d'activité → activité → période → groupe, each level filtered by the one above
from the child's offer. Without JavaScript the form is sent (GET) after each level; a value that
does not belong under the level above (the parent changed an upper choice) is simply dropped,
and a level with a single option is chosen at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marelle_gateway.enrolment_models import Activity, ActivityType, Facility, Group, Offer, Period

# The GET parameters, top-down (also the ids of the selects).
LEVELS = ("equipement", "type", "activite", "periode", "groupe")


@dataclass(frozen=True)
class Step:
    level: str
    options: Sequence[Any]  # facilities, activity types, activities, periods or groups
    chosen: Any | None

    @property
    def single(self) -> bool:
        return len(self.options) == 1


@dataclass
class Choice:
    steps: list[Step] = field(default_factory=list)

    def _chosen(self, level: str) -> Any | None:
        return next((s.chosen for s in self.steps if s.level == level), None)

    @property
    def facility(self) -> Facility | None:
        return self._chosen("equipement")

    @property
    def activity_type(self) -> ActivityType | None:
        return self._chosen("type")

    @property
    def activity(self) -> Activity | None:
        return self._chosen("activite")

    @property
    def period(self) -> Period | None:
        return self._chosen("periode")

    @property
    def group(self) -> Group | None:
        return self._chosen("groupe")

    @property
    def complete(self) -> bool:
        return self.group is not None

    @property
    def pending(self) -> str | None:
        """The first level still to choose (None once the group is chosen)."""
        return next((s.level for s in self.steps if s.chosen is None), None)

    def params(self) -> dict[str, str]:
        """The chosen ids by level, for the hidden fields and the links."""
        return {s.level: str(s.chosen.id) for s in self.steps if s.chosen is not None}


def _below(level: str, item: Any) -> Sequence[Any]:
    return {"equipement": lambda: item.activity_types, "type": lambda: item.activities,
            "activite": lambda: item.periods, "periode": lambda: item.groups}[level]()


def choose(offer: Offer, params: Mapping[str, str]) -> Choice:
    """The steps shown: every level down to the first one not chosen yet."""
    choice = Choice()
    options: Sequence[Any] = offer.facilities
    for level in LEVELS:
        if not options:
            break
        wanted = params.get(level, "")
        chosen = next((o for o in options if str(o.id) == wanted), None)
        if chosen is None and len(options) == 1:
            chosen = options[0]
        choice.steps.append(Step(level, options, chosen))
        if chosen is None or level == LEVELS[-1]:
            break
        options = _below(level, chosen)
    return choice
