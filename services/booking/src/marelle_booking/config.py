from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "booking"

    port: int = 8103
    # The opening queue's decider: tickets decided per transaction, and how often it looks for
    # tickets acknowledged by another process.
    queue_batch_size: int = 200
    queue_poll_seconds: float = 0.25
    # A woken decider waits this long for more submissions before deciding a batch (seconds).
    queue_linger_seconds: float = 0.05
    # A submission waits (at most `queue_admission_wait_seconds`) while this many tickets
    # acknowledged by this process are not decided yet: decisions keep pace with an opening's
    # flood (chassis/decider.py). 0: never waits.
    queue_max_backlog: int = 1000
    queue_admission_wait_seconds: float = 2.0
    # Ticket submissions answered by the fast lane (chassis/fastlane.py) rather than FastAPI's
    # routing: the same checks and use case, less CPU per submission at an opening.
    queue_fast_lane: bool = True
    # On PostgreSQL, the submissions to a period that arrive while its last acknowledgement
    # runs go together in the next one (usecases/tickets.py `Acknowledgements`).
    queue_coalesce_acknowledgements: bool = True
