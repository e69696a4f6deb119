"""identity's answers as the pages read them: the contract's models
(`marelle_contracts.http.identity`, the service's own `response_model`s), re-exported here where
the pages have always found them. Unknown (newer) fields are ignored."""

from __future__ import annotations

from marelle_contracts.http.identity import (  # noqa: F401 (re-exported)
    Contact,
    ContactChangeRequest,
    Family,
    GuardianContact,
    Person,
)
