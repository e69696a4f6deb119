"""Request and response bodies: defined once in `marelle_contracts.http.identity`, re-exported
here for the endpoints (the French field errors come from the chassis handlers)."""

from __future__ import annotations

from marelle_contracts.http.identity import *  # noqa: F403
from marelle_contracts.http.identity import __all__  # noqa: F401
