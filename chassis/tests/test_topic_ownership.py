"""Which events a consumer accepts on which topic, and the Kafka client security settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from marelle_chassis.kafka_security import (
    KafkaSecurityError,
    faststream_security,
    kafka_client_options,
    production_problems,
)
from marelle_chassis.messaging import ForeignEvent, check_origin
from marelle_contracts import Envelope, Topics


def envelope(event_type: str, producer: str) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type=event_type, schema_version=1,
                    occurred_at=datetime.now(UTC), producer=producer, correlation_id="c",
                    key="k", payload={})


@pytest.mark.parametrize(("topic", "event_type", "producer"), [
    (Topics.IDENTITY, "identity.family_created", "identity"),
    (Topics.BILLING, "billing.invoice_paid", "billing"),
    # A type the owner added within the version: passed on (the dispatcher ignores it).
    (Topics.IDENTITY, "identity.something_new", "identity"),
    # Inbound topics: any producer, registered types only.
    (Topics.QUOTIENT, "quotient.family_quotient_updated", "caf-connector"),
    (Topics.SCHOOLS, "schools.child_assigned_to_class", "schools"),
    # Not a Marelle event topic (tests' scratch topics): no owner.
    ("test.abc123", "identity.family_created", "anyone"),
])
def test_accepted(topic: str, event_type: str, producer: str) -> None:
    check_origin(envelope(event_type, producer), topic)


@pytest.mark.parametrize(("topic", "event_type", "producer", "reason"), [
    (Topics.IDENTITY, "identity.family_created", "billing", "« billing » refusé"),
    (Topics.IDENTITY, "billing.invoice_paid", "identity", "événements identity.*"),
    (Topics.ENROLMENT, "enrolment.period_published", "enrolment-bis", "appartient à « enrolment »"),
    (Topics.QUOTIENT, "quotient.unknown", "caf", "inconnu sur le sujet entrant"),
    (Topics.QUOTIENT, "schools.child_assigned_to_class", "schools", "appartient au sujet"),
    (Topics.SCHOOLS, "identity.family_created", "identity", "appartient au sujet"),
])
def test_refused(topic: str, event_type: str, producer: str, reason: str) -> None:
    with pytest.raises(ForeignEvent, match=reason):
        check_origin(envelope(event_type, producer), topic)


def test_plaintext_by_default() -> None:
    assert kafka_client_options({}) == {}
    assert faststream_security({}) is None
    assert production_problems({})


def test_scram_options() -> None:
    env = {"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_USERNAME": "billing",
           "KAFKA_SASL_PASSWORD": "pw"}
    assert kafka_client_options(env) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "billing", "sasl_plain_password": "pw"}
    assert type(faststream_security(env)).__name__ == "SASLScram512"
    assert production_problems(env) == []
    ssl_env = {**env, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}
    assert "ssl_context" in kafka_client_options(ssl_env)


@pytest.mark.parametrize("env", [
    {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},  # no credentials
    {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "billing"},
    {"KAFKA_SECURITY_PROTOCOL": "KERBEROS"},
    {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "MD5",
     "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
])
def test_incomplete_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(KafkaSecurityError):
        kafka_client_options(env)
    assert production_problems(env)
