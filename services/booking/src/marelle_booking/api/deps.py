"""The caller and its own family, the unit of work (the chassis' dependencies), and the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

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


def now(request: Request) -> datetime:
    """The service's clock (`app.state.clock`), settable in tests."""
    return request.app.state.clock()


Now = Annotated[datetime, Depends(now)]
