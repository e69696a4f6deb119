"""Marelle's wire format, shared by every service (never copied)."""

from marelle_contracts.envelope import Envelope, new_envelope
from marelle_contracts.registry import EVENTS, EventSpec, event_spec, parse_payload
from marelle_contracts.topics import Topics, dlq_topic

__all__ = [
    "EVENTS",
    "Envelope",
    "EventSpec",
    "Topics",
    "dlq_topic",
    "event_spec",
    "new_envelope",
    "parse_payload",
]
