"""The caller and its own family; the unit of work (shared by every service: the chassis)."""

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
