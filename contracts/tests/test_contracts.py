import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from marelle_contracts import EVENTS, Envelope, Topics, dlq_topic, new_envelope, parse_payload
from marelle_contracts.export import DEFAULT_ROOT, differences
from marelle_contracts.identity import ChildFacts, FamilyCreated


def family_created() -> FamilyCreated:
    return FamilyCreated(
        family_id=uuid.uuid4(), name="Famille Durand", email="durand@example.org",
        children=[ChildFacts(child_id=uuid.uuid4(), first_name="Zoé", last_name="Durand",
                             birth_date=date(2016, 3, 1))])


def test_envelope_carries_type_version_key_and_round_trips():
    payload = family_created()
    envelope = new_envelope(payload, producer="identity", causation_id="abc")
    assert envelope.event_type == "identity.family_created"
    assert envelope.schema_version == 1
    assert envelope.key == str(payload.family_id)
    assert envelope.correlation_id == str(envelope.event_id)  # a fresh chain starts at itself
    assert envelope.occurred_at.tzinfo is not None
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again == envelope
    assert parse_payload(again.event_type, again.payload) == payload


def test_consumers_ignore_fields_added_within_a_version():
    envelope = new_envelope(family_created(), producer="identity")
    data = envelope.model_dump(mode="json")
    data["new_optional_field"] = 1
    data["payload"]["added_later"] = "x"
    parsed = Envelope.model_validate(data)
    assert parse_payload(parsed.event_type, parsed.payload).name == "Famille Durand"


def test_envelope_rejects_naive_timestamps():
    data = new_envelope(family_created(), producer="identity").model_dump(mode="json")
    data["occurred_at"] = "2026-01-01T10:00:00"
    with pytest.raises(ValidationError):
        Envelope.model_validate(data)


def test_every_event_lives_on_its_producers_topic():
    for spec in EVENTS.values():
        assert spec.topic in Topics.all_event_topics()
        # marelle.<producer>.v1, or marelle.inbound.<producer>.v1 for other systems' facts
        producer = spec.topic.removeprefix("marelle.").removeprefix("inbound.").split(".")[0]
        assert producer == spec.event_type.split(".")[0]
    assert dlq_topic(Topics.IDENTITY) == "marelle.identity.v1.dlq"


def test_generated_schemas_and_asyncapi_are_up_to_date():
    assert differences(DEFAULT_ROOT) == [], "run: python -m marelle_contracts.export"
