"""booking's HTTP bodies: defined once in `marelle_contracts.http.booking`."""

from marelle_contracts.http.booking import *  # noqa: F403
from marelle_contracts.http.booking import __all__  # noqa: F401
