"""Every event type, its payload model, version, topic and key field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from marelle_contracts import identity
from marelle_contracts.topics import Topics


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    schema_version: int
    topic: str
    model: type[BaseModel]
    key_field: str
    summary: str


EVENTS: dict[str, EventSpec] = {
    spec.event_type: spec
    for spec in [
        EventSpec(
            "identity.family_created", 1, Topics.IDENTITY, identity.FamilyCreated,
            "family_id", "A household was created (with its first children).",
        ),
        EventSpec(
            "identity.child_added", 1, Topics.IDENTITY, identity.ChildAdded,
            "family_id", "A child was added to a household.",
        ),
        EventSpec(
            "identity.child_updated", 1, Topics.IDENTITY, identity.ChildUpdated,
            "family_id", "A child's information changed.",
        ),
    ]
}


class UnknownEventType(LookupError):
    pass


def event_spec(event_type: str) -> EventSpec:
    try:
        return EVENTS[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def spec_for_model(model: type[BaseModel]) -> EventSpec:
    for spec in EVENTS.values():
        if spec.model is model:
            return spec
    raise UnknownEventType(model.__name__)


def parse_payload(event_type: str, payload: dict[str, Any]) -> BaseModel:
    return event_spec(event_type).model.model_validate(payload)
