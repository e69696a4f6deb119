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

    event_id: uuid.UUID = Field(
        description="Unique id of this event; a redelivered event keeps it: consumers deduplicate "
                    "on it. — Identifiant unique de cet événement ; un événement redélivré le "
                    "garde : les consommateurs dédoublonnent sur lui.")
    event_type: str = Field(
        description="The event's type, <producer>.<name>, e.g. identity.family_created; tells "
                    "which payload schema applies. — Le type de l'événement, "
                    "<producteur>.<nom>, ex. identity.family_created ; indique le schéma du "
                    "payload.")
    schema_version: int = Field(
        ge=1, description="Version of the payload schema for this event type (1, 2…). — Version "
                          "du schéma du payload pour ce type d'événement (1, 2…).")
    occurred_at: AwareDatetime = Field(
        description="When the change happened, ISO 8601 with a time zone offset. — Moment du "
                    "changement, en ISO 8601 avec décalage horaire.")
    producer: str = Field(
        description="The service that published it: identity, enrolment, booking or billing. — "
                    "Le service qui l'a publié : identity, enrolment, booking ou billing.")
    correlation_id: str = Field(
        description="Id shared by every event and request of one business flow (the first "
                    "event's id when the flow starts with it). — Identifiant commun à tous les "
                    "événements et requêtes d'un même traitement (l'id du premier événement "
                    "quand le traitement commence par lui).")
    causation_id: str | None = Field(
        default=None,
        description="Id of the event (or request) that caused this one, if any. — Identifiant "
                    "de l'événement (ou de la requête) qui a causé celui-ci, s'il existe.")
    key: str = Field(
        description="Aggregate id used as the Kafka key (ordering per key), equal to the "
                    "message's Kafka key. — Identifiant de l'agrégat servant de clé Kafka (ordre "
                    "par clé), égal à la clé du message Kafka.")
    aggregate_version: int | None = Field(
        default=None, ge=1,
        description="Version of the aggregate this event is about, after the change (a sequence "
                    "that only grows); copies apply an event only when it is newer than theirs. "
                    "— Version de l'agrégat concerné, après le changement (une suite qui ne fait "
                    "que croître) ; une copie n'applique un événement que s'il est plus récent "
                    "que le sien.")
    payload: dict[str, Any] = Field(
        description="The event's facts, valid against the JSON Schema of event_type at "
                    "schema_version. — Les faits de l'événement, conformes au schéma JSON de "
                    "event_type en version schema_version.")


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
