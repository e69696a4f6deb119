"""The small adapter over eopayment: one place that knows how a régie's backend is configured,
where the browser goes, and how a provider's answer reads.

eopayment's calls may do network I/O (some backends call a web service): callers run them in a
worker thread, outside any transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import eopayment
from eopayment.common import CANCELLED, DENIED, ERROR, EXPIRED, PAID, WAITING

from marelle_chassis.domain_errors import BadRequest, Conflict, ServiceUnavailable
from marelle_billing.config import BillingSettings

SANDBOX = "dummy"
UNAVAILABLE = "Le paiement en ligne n'est pas disponible pour cette régie."
BAD_ANSWER = "La réponse du prestataire de paiement est illisible."

Result = Literal["paid", "denied", "cancelled", "waiting", "error"]
_RESULTS: dict[int, Result] = {PAID: "paid", DENIED: "denied", CANCELLED: "cancelled",
                               EXPIRED: "cancelled", WAITING: "waiting", ERROR: "error"}


@dataclass(frozen=True)
class Started:
    transaction_id: str
    redirect_url: str
    method: Literal["GET", "POST"] = "GET"
    form_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    transaction_id: str
    result: Result
    signed: bool
    bank_data: dict[str, str]
    bank_status: str
    return_content: str | None


def callback_url(settings: BillingSettings, regie_code: str) -> str:
    return f"{settings.public_url.rstrip('/')}/payments/callback/{regie_code}"


def sandbox_url(settings: BillingSettings) -> str:
    return f"{settings.public_url.rstrip('/')}/sandbox-bank/"


def _backend(settings: BillingSettings, regie_code: str, backend: str, options_json: str,
             return_url: str | None) -> eopayment.Payment:
    if backend == SANDBOX:
        # The sandbox accepts forged answers by design: never outside development and tests.
        if not settings.payment_sandbox:
            raise ServiceUnavailable(UNAVAILABLE)
        options: dict[str, Any] = {"automatic_return_url": callback_url(settings, regie_code),
                                   "origin": "Marelle", "normal_return_url": return_url or ""}
    else:
        try:
            options = dict(json.loads(options_json or "{}"))
        except ValueError:
            raise Conflict(UNAVAILABLE) from None
        options.setdefault("automatic_return_url", callback_url(settings, regie_code))
        if return_url:
            options["normal_return_url"] = return_url
    try:
        return eopayment.Payment(backend, options)
    except Exception:  # unknown backend, missing option: the régie is misconfigured
        raise Conflict(UNAVAILABLE) from None


def start(settings: BillingSettings, *, regie_code: str, backend: str, options_json: str,
          amount_cents: int, email: str | None, orderid: str, subject: str,
          return_url: str) -> Started:
    """Ask the régie's backend for a payment; where the browser goes next."""
    payment = _backend(settings, regie_code, backend, options_json, return_url)
    amount = (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))
    try:
        transaction_id, kind, data = payment.request(amount=amount, email=email, orderid=orderid,
                                                     subject=subject)
    except Exception:  # the backend refused our request (amount range, email required…)
        raise Conflict(UNAVAILABLE) from None
    if kind == eopayment.URL:
        url = str(data)
        if backend == SANDBOX:
            # eopayment points at Entr'ouvert's public dummy bank: ours is local.
            url = sandbox_url(settings) + ("?" + urlsplit(url).query if urlsplit(url).query else "")
        return Started(str(transaction_id), url)
    if kind == eopayment.FORM:
        fields = {str(f["name"]): str(f["value"]) for f in data.fields}
        method = "POST" if str(data.method).upper() == "POST" else "GET"
        return Started(str(transaction_id), str(data.url), method, fields)
    raise Conflict(UNAVAILABLE)  # an HTML page to embed: not something the portal can show


def guess_transaction(query_string: str) -> str:
    """The transaction id a provider's answer carries (before we know whose it is)."""
    try:
        _kind, transaction_id = eopayment.Payment.guess(method="GET", query_string=query_string)
    except Exception:
        raise BadRequest(BAD_ANSWER) from None
    return str(transaction_id)


def read_answer(settings: BillingSettings, *, regie_code: str, backend: str, options_json: str,
                query_string: str) -> Outcome:
    """Verify and read a provider's answer with the régie's backend."""
    payment = _backend(settings, regie_code, backend, options_json, None)
    try:
        response = payment.response(query_string)
    except Exception:
        raise BadRequest(BAD_ANSWER) from None
    if not response.transaction_id:
        raise BadRequest(BAD_ANSWER)
    bank_data = {str(k): str(v[0] if isinstance(v, list) and v else v)
                 for k, v in (response.bank_data or {}).items()}
    status = response.bank_status
    if isinstance(status, list):
        status = status[0] if status else ""
    return Outcome(transaction_id=str(response.transaction_id),
                   result=_RESULTS.get(response.result, "error"), signed=bool(response.signed),
                   bank_data=bank_data, bank_status=str(status or ""),
                   return_content=response.return_content)
