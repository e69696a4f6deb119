"""The payment provider's side: its callback (unauthenticated, verified by eopayment) and the local
sandbox bank (development and tests only)."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from marelle_chassis.domain_errors import BadRequest, NotFound
from marelle_billing.api.deps import Now, UoWFactory
from marelle_billing.config import BillingSettings
from marelle_billing.domain.money import format_eur, parse_euros
from marelle_billing.usecases import payments

log = logging.getLogger(__name__)
router = APIRouter(tags=["payment provider"])

_pages = Environment(loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
                     autoescape=select_autoescape(["html"]))

# The sandbox's test cards (API.md): this one is accepted, any other is declined.
ACCEPTED_CARD = "4970100000000003"
CARD_TYPES = ("CB", "Visa", "Mastercard")


async def _callback(regie_code: str, request: Request, new: UoWFactory,
                    now: Now) -> PlainTextResponse:
    body = (await request.body()).decode("utf-8", "replace") if request.method == "POST" else ""
    content_type = request.headers.get("content-type", "")
    # A form body when the provider posts one, else the query string it put on our URL.
    query = body if body and "json" not in content_type else request.url.query
    if not query:
        raise BadRequest("La notification du prestataire de paiement est vide.")
    _view, outcome = await payments.settle(new, request.app.state.settings, query, now,
                                           regie_code=regie_code)
    if not outcome.signed:
        raise BadRequest("La notification du prestataire de paiement n'est pas signée.")
    return PlainTextResponse(outcome.return_content or "OK")


router.add_api_route("/payments/callback/{regie_code}", _callback, methods=["GET", "POST"],
                     response_class=PlainTextResponse, response_model=None,
                     name="payment_callback")


def _sandbox(request: Request) -> BillingSettings:
    settings: BillingSettings = request.app.state.settings
    if not settings.payment_sandbox:
        raise NotFound("Cette page est introuvable.")
    return settings


def _own_callback(settings: BillingSettings, url: str) -> None:
    # The sandbox only ever notifies this service (no request forwarded elsewhere).
    if not url.startswith(settings.public_url.rstrip("/") + "/payments/callback/"):
        raise BadRequest("L'adresse de notification du paiement n'est pas valide.")


@router.get("/sandbox-bank/", response_class=HTMLResponse, response_model=None)
async def sandbox_page(request: Request) -> HTMLResponse:
    settings = _sandbox(request)
    q = request.query_params
    if not q.get("transaction_id"):
        raise BadRequest("Aucun paiement n'est demandé.")
    _own_callback(settings, q.get("direct_notification_url", ""))
    try:
        amount = format_eur(parse_euros(q.get("amount", "")))
    except ValueError:
        raise BadRequest("Le montant du paiement n'est pas valide.") from None
    html = _pages.get_template("sandbox_bank.html").render(
        amount=amount, transaction_id=q["transaction_id"], email=q.get("email", ""),
        origin=q.get("origin", ""), orderid=q.get("orderid", ""), subject=q.get("subject", ""),
        return_url=q.get("return_url", ""),
        direct_notification_url=q.get("direct_notification_url", ""), card_types=CARD_TYPES)
    return HTMLResponse(html)


@router.post("/sandbox-bank/pay", response_class=RedirectResponse, status_code=303,
             response_model=None)
async def sandbox_pay(request: Request, transaction_id: str = Form(max_length=100),
                      return_url: str = Form(max_length=500),
                      direct_notification_url: str = Form(max_length=500),
                      action: str = Form("payer", max_length=10),
                      card_type: str = Form("CB", max_length=20),
                      card_number: str = Form("", max_length=30),
                      expiry: str = Form("", max_length=7),
                      cvc: str = Form("", max_length=4)) -> RedirectResponse:
    settings = _sandbox(request)
    _own_callback(settings, direct_notification_url)
    number = re.sub(r"[\s-]", "", card_number)
    answer = {"transaction_id": transaction_id, "signed": "1"}
    if action == "annuler":
        answer["reason"] = "abandon"
    elif number == ACCEPTED_CARD:
        answer.update(ok="1", card=card_type if card_type in CARD_TYPES else "CB",
                      last4=number[-4:], authorisation=f"{secrets.randbelow(10**6):06d}")
    else:
        answer["reason"] = "refus"
    query = urlencode(answer)
    await _notify(request, f"{direct_notification_url}?{query}")
    separator = "&" if "?" in return_url else "?"
    return RedirectResponse(f"{return_url}{separator}{query}", status_code=303)


async def _notify(request: Request, url: str) -> None:
    """The bank's server-to-server notification; when it fails the parent's return settles."""
    client: httpx.AsyncClient | None = getattr(request.app.state, "sandbox_http", None)
    try:
        if client is not None:
            await client.post(url, timeout=10)
        else:
            async with httpx.AsyncClient(timeout=10) as fresh:
                await fresh.post(url)
    except httpx.HTTPError as exc:
        log.warning("sandbox bank: the payment notification failed: %s", exc)
