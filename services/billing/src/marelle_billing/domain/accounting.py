"""What accounting sees of an invoice: its amount split per activity (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Lines imported from the previous system have no activity: they show under this name.
IMPORTED_ACTIVITY = "Reprise"


def by_activity(lines: Iterable[tuple[str | None, int]], *,
                credit_note: bool = False) -> list[tuple[str, int]]:
    """[(activity, cents)] of (activity_name, amount_cents) lines, by name (« Reprise » last).
    A credit note's lines are stored negative (what is given back) while its total is positive:
    its amounts take the sign of its total, so they sum to it as an invoice's do."""
    sums: dict[str, int] = defaultdict(int)
    for name, cents in lines:
        sums[name or IMPORTED_ACTIVITY] += int(cents)
    sign = -1 if credit_note and sum(sums.values()) < 0 else 1
    return [(name, sign * sums[name])
            for name in sorted(sums, key=lambda n: (n == IMPORTED_ACTIVITY, n))]
