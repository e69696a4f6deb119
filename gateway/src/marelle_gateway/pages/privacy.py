"""« Mon compte › Mes données personnelles » (GDPR): download everything the portal holds on
the family (one JSON file), ask for its deletion (staff decide; one pending request at most)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_gateway.api.privacy import assemble, attachment
from marelle_gateway.forms import FormErrors, form_values
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable, family_path
from marelle_gateway.pages.account import account_page
from marelle_gateway.pages.common import call_identity
from marelle_gateway.rendering import translator
from marelle_gateway.session import (
    LoginRequired,
    Session,
    client_ip,
    csrf_guard,
    end_session,
    parent_session,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   dependencies=[Depends(csrf_guard)])
PATH = "/mon-compte/mes-donnees"
SECTION = "privacy"
REASON_MAX = 1000


async def _requests(request: Request, session: Session) -> list[dict[str, Any]] | None:
    try:
        body = await call_identity(request, session, "GET",
                                   family_path(session.family_id, "deletion-requests"))
    except UpstreamUnavailable:
        return None
    items = list(body.get("items", []))
    for item in items:
        item["created_on"] = _day(item.get("created_at"))
        item["decided_on"] = _day(item.get("decided_at"))
    return items


def _day(value: str | None) -> str:
    """« 30/11/2026 » from an ISO timestamp (empty when absent)."""
    return f"{value[8:10]}/{value[5:7]}/{value[:4]}" if value and len(value) >= 10 else ""


async def _page(request: Request, session: Session, *, errors: FormErrors | None = None,
                sent: bool = False, reason: str = "", status_code: int = 200) -> HTMLResponse:
    items = await _requests(request, session)
    pending = next((i for i in items or [] if i["status"] == "en_attente"), None)
    return account_page(request, "account_privacy.html", SECTION, errors=errors or FormErrors(),
                        requests=items, pending=pending, sent=sent, reason=reason,
                        identity_down=items is None, status_code=status_code)


@router.get(PATH)
async def privacy(request: Request, sent: bool = False,
                  session: Session = Depends(parent_session)) -> HTMLResponse:
    return await _page(request, session, sent=sent)


@router.get(f"{PATH}/telecharger")
async def download(request: Request, session: Session = Depends(parent_session)) -> Response:
    try:
        document = await assemble(request.app.state.upstreams, session.family_id,
                                  session.access_token, client_ip(request))
    except UpstreamProblem as problem:
        if problem.status == 401:
            end_session(request)
            raise LoginRequired(request) from None
        raise
    return attachment(document)


@router.post(f"{PATH}/suppression")
async def ask_deletion(request: Request, session: Session = Depends(parent_session)) -> Response:
    t = translator(request)
    values = await form_values(request, "reason", "confirm")
    errors = FormErrors()
    reason = (values.get("reason") or "").strip()
    if len(reason) > REASON_MAX:
        errors.add("reason", t("privacy.error.reason_long"))
    if values.get("confirm") != "oui":
        errors.add("confirm", t("privacy.error.confirm"))
    status = 422
    if not errors:
        try:
            await call_identity(request, session, "POST",
                                family_path(session.family_id, "deletion-requests"),
                                ok=(201,), json={"reason": reason or None})
            return RedirectResponse(f"{PATH}?sent=1", status_code=303)
        except UpstreamProblem as problem:
            status = problem.status
            if problem.status == 409:
                errors.top(problem.detail or t("privacy.error.pending"), "fr")
            else:
                errors.add_problem(problem, {"reason": "reason"})
        except UpstreamUnavailable:
            errors.top(t("error.identity_down"))
            status = 503
    return await _page(request, session, errors=errors, reason=reason, status_code=status)
