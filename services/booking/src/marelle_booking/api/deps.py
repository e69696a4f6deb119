"""The caller and its own family, the unit of work (the chassis' dependencies), and the clock."""

from __future__ import annotations

from marelle_chassis.deps import (  # noqa: F401
    OwnFamily,
    Parent,
    Staff,
    UoW,
    UoWFactory,
    current_principal,
    own_family,
    uow,
    uow_factory,
)
from marelle_chassis.clock import Now, now  # noqa: F401
