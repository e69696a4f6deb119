"""Topic names: one event topic per producing service, a DLQ beside each."""

from typing import Final

PARTITIONS: Final = 3


class Topics:
    IDENTITY: Final = "marelle.identity.v1"
    ENROLMENT: Final = "marelle.enrolment.v1"
    BOOKING: Final = "marelle.booking.v1"
    BILLING: Final = "marelle.billing.v1"

    @classmethod
    def all_event_topics(cls) -> list[str]:
        return [cls.IDENTITY, cls.ENROLMENT, cls.BOOKING, cls.BILLING]

    @classmethod
    def all(cls) -> list[str]:
        """Event topics and their DLQs, in a stable order."""
        names: list[str] = []
        for topic in cls.all_event_topics():
            names += [topic, dlq_topic(topic)]
        return names


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
