"""Parent portal pages (server-rendered, no JavaScript needed), one module per area.

Every POST of every page goes through `csrf_guard` (router-wide, so no form can forget it).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from marelle_gateway.pages import (
    account,
    auth,
    billing,
    contact,
    dashboard,
    family,
    registrations,
    status,
)
from marelle_gateway.session import csrf_guard

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   dependencies=[Depends(csrf_guard)])
for _module in (auth, dashboard, family, contact, registrations, account, billing, status):
    router.include_router(_module.router)
