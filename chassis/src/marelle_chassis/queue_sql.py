"""The opening queue's acknowledgement as one PostgreSQL statement (docs/opening-rush.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, literal, select
from sqlalchemy.dialects import postgresql


def ticket_in_line(counters: Table, resource: str, tickets: Table,
                   columns: Sequence[str]) -> Any:
    """One statement: the resource's counter bumped (created on the first ticket) and the ticket
    inserted at that position, or neither (a repeated idempotency key conflicts: no position
    consumed). Returns `issued` (the ticket's position) and `decided`.

    `counters` has `resource` as its key, `issued` and `decided`; `tickets` has `columns`
    (among them `resource`) and `position`. Built once by the caller: the values are bound
    parameters `t_<column>`."""
    counter = (postgresql.insert(counters)
               .values({resource: bindparam(f"t_{resource}", type_=counters.c[resource].type),
                        "issued": 1, "decided": 0})
               .on_conflict_do_update(index_elements=[counters.c[resource]],
                                      set_={"issued": counters.c.issued + 1})
               .returning(counters.c.issued, counters.c.decided)
               .cte("counter"))
    values = [bindparam(f"t_{name}", type_=tickets.c[name].type) for name in columns]
    inserted = (insert(tickets)
                .from_select([*columns, "position"], select(*values, counter.c.issued))
                .returning(tickets.c.position)
                .cte("inserted"))
    return select(inserted.c.position.label("issued"), counter.c.decided).select_from(
        inserted.join(counter, literal(True)))
