"""« Mon compte »: the guide's sub-menu and financial summary (billing), the password here; the
other financial pages are in `pages/billing.py`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.billing import euros
from marelle_gateway.forms import FormErrors, check_new_password, form_values, require
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable
from marelle_gateway.pages.common import call_identity
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import LoginRequired, Session, end_session, parent_session

router = APIRouter()

# The guide's sub-menu, in its order: (id, path). Labels: `account.menu.<id>`.
ACCOUNT_MENU = (
    ("password", "/mon-compte/mot-de-passe"),
    ("by_registration", "/mon-compte/detail-par-inscription"),
    ("by_invoice", "/mon-compte/detail-par-facture"),
    ("tax_statement", "/mon-compte/attestation-fiscale"),
    ("privacy", "/mon-compte/mes-donnees"),
)
# Sub-pages served by `pages/billing.py` (each with its `account.<id>.intro`).
BILLING_PAGES = ("by_registration", "by_invoice", "tax_statement")
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_confirmation")


def account_page(request: Request, template: str, section: str | None, *,
                 status_code: int = 200, **context: Any) -> HTMLResponse:
    return render(request, template, page="account", account_menu=ACCOUNT_MENU,
                  section=section, status_code=status_code, **context)



@router.get("/mon-compte")
async def account(request: Request, session: Session = Depends(parent_session)) -> HTMLResponse:
    """The financial summary (« Solde », « Nombre d'enfants à charge », « Derniers revenus »,
    « Quotient », « Tranche tarifaire »), then the sub-menu. The sub-menu (and the password)
    stays reachable when billing is down or does not know the family yet."""
    summary, state, status = None, "ok", 200
    try:
        summary = await request.app.state.upstreams.billing.account(session.family_id,
                                                                    session.access_token)
    except UpstreamProblem as problem:
        if problem.status == 401:
            end_session(request)
            raise LoginRequired(request) from None
        # 404: no financial account yet (nothing invoiced, or billing not told yet).
        state = "none"
    except UpstreamUnavailable:
        state, status = "down", 503
    lang = translator(request).lang
    return account_page(request, "account.html", None, summary=summary, summary_state=state,
                        money=lambda cents: euros(cents, lang), status_code=status)


@router.get("/mon-compte/mot-de-passe")
async def password_form(request: Request, session: Session = Depends(parent_session)
                        ) -> HTMLResponse:
    return account_page(request, "account_password.html", "password", errors=FormErrors(),
                         changed=False)


@router.post("/mon-compte/mot-de-passe")
async def change_password(request: Request, session: Session = Depends(parent_session)
                          ) -> HTMLResponse:
    t = translator(request)
    values = await form_values(request, *PASSWORD_FIELDS, raw=PASSWORD_FIELDS)
    errors, status = FormErrors(), 422
    require(values, errors, t, "current_password")
    check_new_password(values, errors, t, "new_password", "new_password_confirmation")
    if not errors:
        try:
            await call_identity(request, session, "POST", "/me/password", ok=(200, 204),
                                json={"current_password": values["current_password"],
                                      "new_password": values["new_password"]})
            return account_page(request, "account_password.html", "password",
                                 errors=errors, changed=True)
        except UpstreamProblem as problem:
            status = problem.status
            if problem.status == 400:
                # « Le mot de passe actuel est incorrect. »
                errors.add("current_password", problem.detail or t("account.error.current"),
                           "fr" if problem.detail else None)
            else:
                errors.add_problem(problem, {"new_password": "new_password",
                                             "password": "new_password",
                                             "current_password": "current_password"})
        except UpstreamUnavailable:
            errors.top(t("error.identity_down"))
            status = 503
    return account_page(request, "account_password.html", "password", errors=errors,
                         changed=False, status_code=status)
