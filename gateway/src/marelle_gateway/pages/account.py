"""« Mon compte »: the guide's sub-menu; the password here, the financial pages with billing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.forms import FormErrors, check_new_password, form_values, require
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable
from marelle_gateway.pages.common import call_identity
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session

router = APIRouter()

# The guide's sub-menu, in its order: (id, path). Labels: `account.menu.<id>`.
ACCOUNT_MENU = (
    ("password", "/mon-compte/mot-de-passe"),
    ("by_registration", "/mon-compte/detail-par-inscription"),
    ("by_invoice", "/mon-compte/detail-par-facture"),
    ("tax_statement", "/mon-compte/attestation-fiscale"),
)
# Sub-pages that arrive with the billing service.
BILLING_PAGES = ("by_registration", "by_invoice", "tax_statement")
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_confirmation")


def _account_page(request: Request, template: str, section: str | None,
                  **context) -> HTMLResponse:
    return render(request, template, page="account", account_menu=ACCOUNT_MENU,
                  section=section, **context)


@router.get("/mon-compte")
async def account(request: Request, session: Session = Depends(parent_session)) -> HTMLResponse:
    return _account_page(request, "account.html", None)


def _billing_route(section: str, path: str) -> None:
    async def billing_page(request: Request, session: Session = Depends(parent_session)
                           ) -> HTMLResponse:
        return _account_page(request, "account.html", section)

    billing_page.__name__ = f"account_{section}"
    router.add_api_route(path, billing_page, methods=["GET"])


for _section, _path in ACCOUNT_MENU:
    if _section in BILLING_PAGES:
        _billing_route(_section, _path)


@router.get("/mon-compte/mot-de-passe")
async def password_form(request: Request, session: Session = Depends(parent_session)
                        ) -> HTMLResponse:
    return _account_page(request, "account_password.html", "password", errors=FormErrors(),
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
            return _account_page(request, "account_password.html", "password",
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
    return _account_page(request, "account_password.html", "password", errors=errors,
                         changed=False, status_code=status)
