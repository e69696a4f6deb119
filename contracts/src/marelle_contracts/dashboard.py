"""HTTP shape that every service answers on `GET /families/{family_id}/requests`, merged by the
portal into « Mon tableau de bord »."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class RequestStatus(StrEnum):
    PENDING = "en_attente"
    ACCEPTED = "acceptee"
    REFUSED = "refusee"


class RequestItem(BaseModel):
    kind: str
    label: str
    status: RequestStatus
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None


class RequestItems(BaseModel):
    items: list[RequestItem]
