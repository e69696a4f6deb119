"""Topic names: one event topic per producing service, a DLQ beside each.

Inbound topics carry facts other municipal systems own (the quotient familial from a CAF/MSA data
connector, the schools' class assignments): those systems write them, Marelle's services read
them, validated on arrival (an invalid message goes to the DLQ with its reason)."""

from typing import Final

PARTITIONS: Final = 3


class Topics:
    IDENTITY: Final = "marelle.identity.v1"
    ENROLMENT: Final = "marelle.enrolment.v1"
    BOOKING: Final = "marelle.booking.v1"
    BILLING: Final = "marelle.billing.v1"
    # Inbound: written by other municipal systems.
    QUOTIENT: Final = "marelle.inbound.quotient.v1"
    SCHOOLS: Final = "marelle.inbound.schools.v1"

    @classmethod
    def all_event_topics(cls) -> list[str]:
        return [cls.IDENTITY, cls.ENROLMENT, cls.BOOKING, cls.BILLING, cls.QUOTIENT, cls.SCHOOLS]

    @classmethod
    def inbound_topics(cls) -> list[str]:
        return [cls.QUOTIENT, cls.SCHOOLS]

    @classmethod
    def all(cls) -> list[str]:
        """Event topics and their DLQs, in a stable order."""
        names: list[str] = []
        for topic in cls.all_event_topics():
            names += [topic, dlq_topic(topic)]
        return names


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
