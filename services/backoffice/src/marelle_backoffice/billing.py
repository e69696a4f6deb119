"""The billing endpoints the back-office calls (services/billing/API.md, staff part), and money
shown and typed the French way.

Bodies and answers are billing's own models (`marelle_contracts.http.billing`): a body is checked
before it leaves (what billing would refuse is refused here with its French field errors), an
answer of another shape is an outage. The pain.008 file and the report's spreadsheet are not JSON:
their media type is checked instead.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency, format_decimal
from fastapi import Request
from pydantic import BaseModel

from marelle_chassis.audit import AuditEntries
from marelle_contracts.http import billing as contract

from marelle_backoffice.booking import Download
from marelle_backoffice.clients import (
    ServiceUnavailable,
    Services,
    checked_answer,
    request_body,
)
from marelle_backoffice.session import StaffSession

SERVICE = "billing"
_AMOUNT = re.compile(r"^-?\d{1,9}([.,]\d{1,2})?$")


# --- money ----------------------------------------------------------------------------------------

def euros(cents: int | None) -> str:
    """Cents as French text: « 1 234,50 € » (Babel, fr_FR)."""
    if cents is None:
        return ""
    return format_currency((Decimal(int(cents)) / 100).quantize(Decimal("0.01")), "EUR",
                           locale="fr_FR")


def number(value: int) -> str:
    """A count the French way: « 20 000 » (Babel, fr_FR)."""
    return format_decimal(value, locale="fr_FR")


def cents_text(cents: int | None) -> str:
    """Cents as a form shows them again: « 3,50 » (no currency sign, no grouping)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def parse_euros(text: str) -> int | None:
    """« 3,50 », « 3.5 », « 1 234,50 € » → cents; None when it is not an amount."""
    cleaned = (text or "").strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    cleaned = cleaned.removesuffix("€")
    if not _AMOUNT.match(cleaned):
        return None
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already refused it
        return None
    return int((value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def body_of(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` as billing's request body; a 422 `UpstreamProblem` (French fields) if invalid."""
    return request_body(SERVICE, model, data)


def _params(**values: Any) -> dict[str, str]:
    """Query parameters, the empty ones left out."""
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


class Billing:
    """Staff calls made with one staff member's token."""

    def __init__(self, services: Services, token: str, client_ip: str | None) -> None:
        self.services = services
        self.token = token
        self.client_ip = client_ip

    async def _call(self, method: str, path: str, answer: type[Any] | None = None,
                    **kwargs: Any) -> Any:
        response = await self.services.call(SERVICE, method, path, token=self.token,
                                            client_ip=self.client_ip, **kwargs)
        body = response.json() if response.content else None
        return checked_answer(SERVICE, answer, body) if answer else body

    async def audit(self, limit: int, staff: str | None = None) -> list[dict[str, Any]]:
        """This service's staff audit log (issue #11), newest first."""
        params: dict[str, Any] = {"limit": limit, **({"staff": staff} if staff else {})}
        return (await self._call("GET", "/staff/audit", AuditEntries, params=params))["items"]

    async def _download(self, path: str, media_type: str,
                        params: dict[str, str] | None = None) -> Download:
        response = await self.services.call(SERVICE, "GET", path, token=self.token,
                                            client_ip=self.client_ip, params=params)
        if response.headers.get("content-type", "").split(";")[0].strip() != media_type:
            raise ServiceUnavailable(SERVICE)  # another shape: an outage, never passed on
        return Download(response.content, media_type)

    # --- QF brackets, régies, tariffs -------------------------------------------------------------

    async def brackets(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/brackets", contract.Brackets))["brackets"]

    async def save_brackets(self, brackets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = body_of(contract.BracketsIn, {"brackets": brackets})
        return (await self._call("PUT", "/staff/brackets", contract.Brackets,
                                 json=body))["brackets"]

    async def regies(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/regies", contract.Regies))["regies"]

    async def create_regie(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/staff/regies", contract.Regie,
                                json=body_of(contract.RegieIn, data))

    async def update_regie(self, code: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/regies/{code}", contract.Regie,
                                json=body_of(contract.RegieIn, data))

    async def tariffs(self, regie: str = "", activity: str = "") -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/tariffs", contract.Tariffs,
                                 params=_params(regie=regie, activity=activity)))["tariffs"]

    async def create_tariff(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/staff/tariffs", contract.Tariff,
                                json=body_of(contract.TariffIn, data))

    async def update_tariff(self, tariff_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/tariffs/{tariff_id}", contract.Tariff,
                                json=body_of(contract.TariffIn, data))

    async def delete_tariff(self, tariff_id: str) -> None:
        await self._call("DELETE", f"/staff/tariffs/{tariff_id}")

    # --- the city's districts (« quartiers ») -----------------------------------------------------

    async def districts(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/districts", contract.Districts))["districts"]

    async def create_district(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/staff/districts", contract.District,
                                json=body_of(contract.DistrictIn, data))

    async def rename_district(self, code: str, label: str) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/districts/{code}", contract.District,
                                json=body_of(contract.DistrictRenameIn, {"label": label}))

    async def delete_district(self, code: str) -> None:
        await self._call("DELETE", f"/staff/districts/{code}")

    # --- a family's finances ----------------------------------------------------------------------

    async def profile(self, family_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/families/{family_id}/profile",
                                contract.FinancialProfile)

    async def save_profile(self, family_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"/staff/families/{family_id}/profile",
                                contract.FinancialProfile,
                                json=body_of(contract.FinancialProfileIn, data))

    async def account(self, family_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/families/{family_id}/account",
                                contract.AccountSummary)

    async def invoices(self, *, regie: str = "", family_id: str = "",
                       unpaid: bool = False) -> dict[str, Any]:
        return await self._call("GET", "/staff/invoices", contract.InvoiceList,
                                params=_params(regie=regie, family_id=family_id,
                                               unpaid="true" if unpaid else ""))

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/invoices/{invoice_id}", contract.InvoiceDetail)

    async def record_payment(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/staff/payments", contract.PaymentView,
                                json=body_of(contract.ManualPaymentIn, data))

    async def payments(self, *, regie: str = "", family_id: str = "",
                       method: str = "") -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/payments", contract.PaymentList,
                                 params=_params(regie=regie, family_id=family_id,
                                                method=method)))["payments"]

    async def mandates(self, family_id: str) -> list[dict[str, Any]]:
        return (await self._call("GET", f"/staff/families/{family_id}/mandates",
                                 contract.Mandates))["mandates"]

    async def add_mandate(self, family_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"/staff/families/{family_id}/mandates", contract.Mandate,
                                json=body_of(contract.MandateIn, data))

    async def revoke_mandate(self, mandate_id: str) -> None:
        await self._call("DELETE", f"/staff/mandates/{mandate_id}")

    # --- invoicing runs ---------------------------------------------------------------------------

    async def start_run(self, regie_code: str, month: str) -> dict[str, Any]:
        return await self._call("POST", "/staff/runs", contract.Run,
                                json=body_of(contract.RunIn,
                                             {"regie_code": regie_code, "month": month}))

    async def runs(self, regie: str = "") -> list[dict[str, Any]]:
        return (await self._call("GET", "/staff/runs", contract.Runs,
                                 params=_params(regie=regie)))["runs"]

    async def run(self, run_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/runs/{run_id}", contract.Run)

    async def run_invoices(self, run_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/staff/runs/{run_id}/invoices", contract.InvoiceList)

    async def recompute(self, run_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/staff/runs/{run_id}/recompute", contract.Run)

    async def finalise(self, run_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/staff/runs/{run_id}/finalise", contract.Run)

    async def discard(self, run_id: str) -> None:
        await self._call("DELETE", f"/staff/runs/{run_id}")

    # --- SEPA, import, reports --------------------------------------------------------------------

    async def sepa_collection(self, regie_code: str, collection_date: str) -> dict[str, Any]:
        return await self._call("POST", "/staff/sepa/collections", contract.SepaCollection,
                                json=body_of(contract.SepaCollectionIn,
                                             {"regie_code": regie_code,
                                              "collection_date": collection_date}))

    async def sepa_file(self, collection_id: str) -> Download:
        return await self._download(f"/staff/sepa/collections/{collection_id}/pain.008.xml",
                                    "application/xml")

    async def import_invoices(self, regie_code: str, csv: str) -> dict[str, Any]:
        return await self._call("POST", "/staff/imports/invoices", contract.ImportResult,
                                json=body_of(contract.ImportIn,
                                             {"regie_code": regie_code, "csv": csv}))

    async def report(self, regie: str, month: str) -> dict[str, Any]:
        return await self._call("GET", "/staff/reports", contract.Report,
                                params=_params(regie=regie, month=month))

    async def report_csv(self, regie: str, month: str) -> Download:
        return await self._download("/staff/reports.csv", "text/csv",
                                    _params(regie=regie, month=month))

    async def accounting_csv(self, regie: str, first: str, last: str) -> Download:
        """« Export comptable »: invoices, credit notes and payments from `first` to `last`."""
        return await self._download("/staff/exports/accounting.csv", "text/csv",
                                    {**_params(regie=regie), "from": first, "to": last})


def billing(request: Request, staff: StaffSession) -> Billing:
    """The billing client for this request's staff member."""
    client_ip = request.client.host if request.client else None
    return Billing(request.app.state.services, staff.token, client_ip)
