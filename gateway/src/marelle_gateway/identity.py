"""Calls to identity (accounts, household, contact details), as `services/identity/API.md` says.

The plumbing (`send`, `fetch`, the problem and outage exceptions) is `upstream.py`'s; the names
stay importable from here, where the pages have always found them.
"""

from __future__ import annotations

from marelle_gateway.upstream import (  # noqa: F401 (re-exported)
    ServiceClient,
    UpstreamProblem,
    UpstreamUnavailable,
    family_path,
    problem_of,
)

IDENTITY_DOWN = ("Le service des comptes est momentanément indisponible. "
                 "Réessayez dans quelques minutes.")


class IdentityClient(ServiceClient):
    name = "identity"
    down = IDENTITY_DOWN

    @property
    def jwks_url(self) -> str:
        return self.base_url + "/.well-known/jwks.json"
