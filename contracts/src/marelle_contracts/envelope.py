"""The event envelope every Marelle event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Metadata around one event; `payload` is validated against the registry by type."""

    # Consumers ignore fields they do not know: producers may add optional fields in a version.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID
    event_type: str = Field(description="e.g. identity.family_created")
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str
    correlation_id: str
    causation_id: str | None = None
    key: str = Field(description="aggregate id used as the Kafka key (ordering)")
    aggregate_version: int | None = Field(
        default=None, ge=1,
        description="version of the aggregate this event is about, after the change (a sequence "
                    "that only grows); copies apply an event only when it is newer than theirs")
    payload: dict[str, Any]


def new_envelope(
    payload: BaseModel,
    *,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    occurred_at: datetime | None = None,
    version: int | None = None,
) -> Envelope:
    """Wrap a registered payload model in a fresh envelope."""
    from marelle_contracts.registry import spec_for_model

    spec = spec_for_model(type(payload))
    event_id = uuid.uuid4()
    return Envelope(
        event_id=event_id,
        event_type=spec.event_type,
        schema_version=spec.schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        key=str(getattr(payload, spec.key_field)),
        aggregate_version=version,
        payload=payload.model_dump(mode="json"),
    )
