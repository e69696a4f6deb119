"""billing's HTTP bodies: defined once in `marelle_contracts.http.billing` (the gateway and the
back-office use the same models)."""

from marelle_contracts.http.billing import *  # noqa: F401,F403
from marelle_contracts.http.billing import __all__  # noqa: F401
