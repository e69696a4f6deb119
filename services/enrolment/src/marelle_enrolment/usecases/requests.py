"""The family's requests for its dashboard (`GET /families/{id}/requests`, which the gateway
merges with the other services'): registrations and attestation requests."""

from __future__ import annotations

import uuid
from typing import Any

from marelle_chassis.uow import UnitOfWork
from marelle_enrolment.usecases import attestations, registrations


async def family_requests(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    """Most recent first; both reads in one transaction (one connection per page)."""
    async with uow:
        regs = await registrations.family_views(uow, family_id)
        asked = await attestations.family_attestation_views(uow, family_id)
    labels = {r["id"]: f"{r['child_first_name']}, {r['activity_name']} - {r['period_label']}"
              for r in regs}
    items = registrations.dashboard_items(regs) + attestations.dashboard_items(asked, labels)
    return sorted(items, key=lambda i: i["created_at"], reverse=True)
