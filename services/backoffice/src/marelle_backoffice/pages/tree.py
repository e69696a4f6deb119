"""Enrolment's catalogue (équipement › type › activité › période › groupe) indexed by id.

Pages need a node with its parents (breadcrumbs, form context, filter lists); enrolment sends the
tree once (`GET /staff/catalogue`), so it is walked here rather than asked for node by node.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from marelle_backoffice import formatting


class Place(NamedTuple):
    """A node and its parents; the levels below the node are None."""

    facility: dict[str, Any]
    activity_type: dict[str, Any] | None = None
    activity: dict[str, Any] | None = None
    period: dict[str, Any] | None = None
    group: dict[str, Any] | None = None

    @property
    def period_title(self) -> str:
        """« AUTOMNE - Automne 2016 », as the guide names a period."""
        assert self.activity is not None and self.period is not None
        return f"{self.activity['name']} - {self.period['label']}"


class CatalogueIndex:
    def __init__(self, facilities: list[dict[str, Any]]) -> None:
        self.facilities = facilities
        self.facility: dict[str, Place] = {}
        self.activity_type: dict[str, Place] = {}
        self.activity: dict[str, Place] = {}
        self.period: dict[str, Place] = {}
        self.group: dict[str, Place] = {}
        for f in facilities:
            self.facility[str(f["id"])] = Place(f)
            for t in f.get("activity_types") or []:
                self.activity_type[str(t["id"])] = Place(f, t)
                for a in t.get("activities") or []:
                    self.activity[str(a["id"])] = Place(f, t, a)
                    for p in a.get("periods") or []:
                        self.period[str(p["id"])] = Place(f, t, a, p)
                        for g in p.get("groups") or []:
                            self.group[str(g["id"])] = Place(f, t, a, p, g)

    def periods(self) -> list[Place]:
        return list(self.period.values())

    def groups(self) -> list[Place]:
        return list(self.group.values())


def window_state(period: dict[str, Any], now: datetime | None = None) -> str:
    """Where the registration window stands: `cloturee`, `a_venir`, `prioritaires` (open to
    returning families or residents only), `ouvertes` or `terminees`."""
    if period.get("closed"):
        return "cloturee"
    now = now or datetime.now(UTC)
    opens = formatting.parse_datetime(period.get("opens_at"))
    closes = formatting.parse_datetime(period.get("closes_at"))
    early = [d for d in (formatting.parse_datetime(period.get("priority_opens_at")),
                         formatting.parse_datetime(period.get("residents_open_at")),
                         *(formatting.parse_datetime(o.get("opens_at"))
                           for o in period.get("district_openings") or [])) if d]
    first = min(early) if early else opens
    if first and now < first:
        return "a_venir"
    if closes and now >= closes:
        return "terminees"
    if opens and now < opens:
        return "prioritaires"
    return "ouvertes"


WINDOW_STATES = ("cloturee", "a_venir", "prioritaires", "ouvertes", "terminees")
