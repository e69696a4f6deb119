from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLMENT_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "enrolment"

    port: int = 8102
    # Printed on attestations.
    structure_name: str = "Ville de Marelle — Service enfance"
    # The city's choice: a household created by online sign-up may ask for registrations only
    # once staff have reviewed it (« à vérifier » in the back-office). Off by default.
    refuse_unreviewed_families: bool = False
    # The opening queue decides up to this many tickets of a group per transaction. Each of a
    # batch's statements waits behind the requests in flight: at 500 rather than 200, 8,100–8,900
    # of 10,000 tickets were decided by the last submission instead of ~7,000 (bench/rush.py).
    queue_batch_size: int = 500
    # How long a process reuses a group's and period's rows to check submissions (seconds).
    queue_catalogue_ttl_seconds: float = 1.0
    # How often an idle decider looks for tickets taken by another process (seconds); this
    # process's own tickets wake it at once.
    queue_poll_seconds: float = 0.25
    # A woken decider waits this long for more submissions before deciding a batch (seconds).
    queue_linger_seconds: float = 0.05
    # A submission waits (at most `queue_admission_wait_seconds`) while this many tickets
    # acknowledged by this process are not decided yet: decisions keep pace with an opening's
    # flood (chassis/decider.py). 0: never waits. A few seconds of decisions: enrolment decides
    # a ticket about five times faster than booking (one registration against five days). The
    # last outcome follows the last submission by about this many tickets' decisions (bench/
    # rush.py: 5,000 undecided at the last submission took 7.4 s, while the relay and booking's
    # consumer worked too).
    queue_max_backlog: int = 3000
    queue_admission_wait_seconds: float = 2.0
    # Ticket submissions answered by the fast lane (chassis/fastlane.py) rather than FastAPI's
    # routing: the same checks and use case, less CPU per submission at an opening.
    queue_fast_lane: bool = True
    # On PostgreSQL, the submissions to a group that arrive while its last acknowledgement runs
    # go together in the next one (usecases/tickets.py `Acknowledgements`).
    queue_coalesce_acknowledgements: bool = True
