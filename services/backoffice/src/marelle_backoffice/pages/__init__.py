"""Staff pages (server-rendered, no JavaScript needed), assembled with their protections.

Every page router checks CSRF on POST; every router but the login and health pages requires the
staff session (a test walks the routes to keep it so).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from marelle_backoffice.pages import (
    admin,
    attestations,
    auth,
    billing_accounts,
    billing_districts,
    billing_runs,
    billing_setup,
    booking_days,
    bookings,
    catalogue,
    classes,
    families,
    home,
    openings,
    registrations,
    requests,
    shuttles,
    totp,
    waiting_lists,
)
from marelle_backoffice.session import check_csrf, require_session

PUBLIC_PATHS = frozenset({"/connexion", "/connexion/nouveau-mot-de-passe",
                          "/connexion/double-authentification", "/deconnexion", "/sante"})

_private = APIRouter(dependencies=[Depends(require_session)])
for _module in (home, families, requests, registrations, catalogue, waiting_lists, openings,
                attestations,
                classes,
                bookings, booking_days, shuttles, billing_setup, billing_runs, billing_accounts,
                billing_districts, admin, totp):
    _private.include_router(_module.router)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   dependencies=[Depends(check_csrf)])
router.include_router(auth.router)
router.include_router(home.public)
router.include_router(_private)
