"""The service's clock (shared with billing: `marelle_chassis.clock`)."""

from marelle_chassis.clock import PARIS, Clock, FixedClock, system_clock  # noqa: F401
