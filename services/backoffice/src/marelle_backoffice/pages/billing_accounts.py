"""« Facturation »: a family's finances (financial profile and its history, account, invoices,
payments recorded at the desk, SEPA mandates), unpaid invoices, payments, SEPA collections, the
import of the previous system's invoices and the financial dashboard.

Every page makes a fixed number of calls to billing, gathered; amounts are typed in euros
(« 40,00 ») and sent in cents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from marelle_contracts.billing import PaymentMethod

from marelle_backoffice.billing import billing, cents_text, euros, parse_euros
from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.billing_common import (
    SECTION,
    by_first_segment,
    checked_code,
    chosen_regie,
    current_month,
    month_label,
    parse_month,
    passed_on,
    refused,
)
from marelle_backoffice.pages.common import checked_id, flash, parse_date
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, identity, require_session

router = APIRouter()

PAGE = "billing"
FINANCE_FLASHES = ("profil", "paiement", "mandat", "mandat_revoque")
QF_SOURCES = ("caf", "msa", "avis_imposition", "saisie", "import")
DESK_METHODS = ("especes", "cheque", "cesu", "cheque_vacances")
METHODS = tuple(m.value for m in PaymentMethod)
PROFILE_FIELDS = {"qf": "profil-qf", "qf_date": "profil-date", "qf_source": "profil-source",
                  "income_cents": "profil-revenus", "income_year": "profil-annee",
                  "dependent_children": "profil-enfants", "resident": "profil-resident",
                  "district": "profil-quartier", "reason": "profil-motif"}
PAYMENT_FIELDS = {"regie_code": "paiement-regie", "method": "paiement-moyen",
                  "amount_cents": "paiement-montant", "received_on": "paiement-date",
                  "cheque": "paiement-cheque-emetteur", "reference": "paiement-reference",
                  "allocations": "paiement-imputation"}
MANDATE_FIELDS = {"regie_code": "mandat-regie", "reference": "mandat-reference",
                  "debtor_name": "mandat-titulaire", "iban": "mandat-iban", "bic": "mandat-bic",
                  "signed_on": "mandat-date"}
MAX_IMPORT_BYTES = 5_000_000


def finances_path(family_id: str) -> str:
    return f"/familles/{family_id}/finances"


def _dmy(value: Any) -> str:
    iso = parse_date(str(value)) if value else None
    return "/".join(reversed(iso.split("-"))) if iso else ""


def _today() -> str:
    return date.today().strftime("%d/%m/%Y")


# --- a family's finances --------------------------------------------------------------------------

def _profile_values(profile: Mapping[str, Any]) -> dict[str, Any]:
    return {"profil-qf": "" if profile.get("qf") is None else str(profile["qf"]),
            "profil-date": _dmy(profile.get("qf_date")),
            "profil-source": profile.get("qf_source") or "",
            "profil-revenus": cents_text(profile.get("income_cents")),
            "profil-annee": "" if profile.get("income_year") is None
            else str(profile["income_year"]),
            "profil-enfants": "" if profile.get("dependent_children") is None
            else str(profile["dependent_children"]),
            "profil-resident": "oui" if profile.get("resident", True) else "non",
            "profil-quartier": profile.get("district") or "",
            "profil-motif": ""}


def _empty_payment() -> dict[str, Any]:
    return {"paiement-regie": "", "paiement-moyen": "especes", "paiement-montant": "",
            "paiement-date": _today(), "paiement-cheque-emetteur": "",
            "paiement-cheque-banque": "", "paiement-cheque-numero": "",
            "paiement-reference": "", "imputations": {}}


def _empty_mandate() -> dict[str, str]:
    return {"mandat-regie": "", "mandat-reference": "", "mandat-titulaire": "",
            "mandat-iban": "", "mandat-bic": "", "mandat-date": ""}


def _change_rows(change: Mapping[str, Any], t: Translator) -> list[tuple[str, str, str]]:
    """A history entry as (« Quotient familial », avant, après) rows, changed fields only."""
    before, after = change.get("before") or {}, change.get("after") or {}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        if before.get(key) == after.get(key):
            continue
        label = t(f"profile.field.{key}") if f"profile.field.{key}" in t else key
        rows.append((label, _shown(key, before.get(key), t), _shown(key, after.get(key), t)))
    return rows


def _shown(key: str, value: Any, t: Translator) -> str:
    if value is None or value == "":
        return t("common.none")
    if key == "income_cents" and isinstance(value, int):
        return euros(value)
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if key.endswith("date"):
        return _dmy(value) or str(value)
    if key == "qf_source" and f"qf_source.{value}" in t:
        return t(f"qf_source.{value}")
    return str(value)


async def _finances_page(request: Request, staff: StaffSession, family_id: str, *,
                         form: str | None = None, values: dict[str, Any] | None = None,
                         errors: FormErrors | None = None,
                         status_code: int = 200) -> HTMLResponse:
    t = Translator()
    api = billing(request, staff)
    (family, profile, account, invoices, payments, mandates, regie_list,
     district_list) = await asyncio.gather(
        identity(request, staff).family(family_id), api.profile(family_id),
        api.account(family_id), api.invoices(family_id=family_id),
        api.payments(family_id=family_id), api.mandates(family_id), api.regies(),
        api.districts())
    # The « Quartier » select: billing's list, plus the household's own if renamed meanwhile.
    districts = [(d["code"], d["label"]) for d in district_list]
    if profile.get("district") and profile["district"] not in dict(districts):
        districts.append((profile["district"], profile.get("district_label")
                          or profile["district"]))
    history = sorted(profile.get("history") or [], key=lambda c: str(c["changed_at"]),
                     reverse=True)
    history = [{**change, "rows": _change_rows(change, t)} for change in history]
    invoice_rows = sorted(invoices["invoices"], key=lambda i: str(i.get("issued_on") or ""),
                          reverse=True)
    open_invoices = [i for i in invoice_rows if i["kind"] == "facture"
                     and i["status"] == "emise" and i["balance_cents"] > 0]
    forms = {"profil": _profile_values(profile), "paiement": _empty_payment(),
             "mandat": _empty_mandate()}
    if form and values is not None:
        forms[form] = values
    return render(request, "billing_family.html", page="families", family=family["family"],
                  profile=profile, account=account, history=history, invoices=invoice_rows,
                  total_balance=invoices["total_balance_cents"], open_invoices=open_invoices,
                  payments=sorted(payments, key=lambda p: str(p["created_at"]), reverse=True),
                  mandates=mandates, regies=regie_list, districts=districts, forms=forms,
                  form=form,
                  errors=errors or FormErrors(), sources=QF_SOURCES, methods=DESK_METHODS,
                  month_label=month_label,
                  message=flash(request, FINANCE_FLASHES), status_code=status_code)


@router.get("/familles/{family_id}/finances")
async def finances(request: Request, family_id: str,
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _finances_page(request, staff, checked_id(family_id))


@router.post("/familles/{family_id}/finances/profil")
async def save_profile(request: Request, family_id: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    family_id = checked_id(family_id)
    form = await request.form()
    values: dict[str, Any] = {name: text(form, name) for name in _profile_values({})}
    values["profil-resident"] = "non" if form.get("profil-resident") == "non" else "oui"
    errors, status = FormErrors(), 422
    body: dict[str, Any] = {"resident": values["profil-resident"] == "oui",
                            "reason": values["profil-motif"] or None}
    if values["profil-quartier"]:  # absent: none (the PUT replaces the profile: cleared)
        body["district"] = values["profil-quartier"]
    for field_id, key, high, message in (
            ("profil-qf", "qf", 100_000, "profile.error.qf"),
            ("profil-annee", "income_year", 2100, "profile.error.year"),
            ("profil-enfants", "dependent_children", 30, "profile.error.children")):
        raw = values[field_id]
        if not raw:
            body[key] = None
        elif not raw.isdigit() or int(raw) > high:
            errors.add(field_id, t(message))
        else:
            body[key] = int(raw)
    if values["profil-date"]:
        body["qf_date"] = parse_date(values["profil-date"])
        if body["qf_date"] is None:
            errors.add("profil-date", t("profile.error.date"))
    else:
        body["qf_date"] = None
    if values["profil-source"] and values["profil-source"] not in QF_SOURCES:
        errors.add("profil-source", t("profile.error.source"))
    body["qf_source"] = values["profil-source"] or None
    if values["profil-revenus"]:
        body["income_cents"] = parse_euros(values["profil-revenus"])
        if body["income_cents"] is None or body["income_cents"] < 0:
            errors.add("profil-revenus", t("profile.error.income"))
    else:
        body["income_cents"] = None
    if not errors:
        try:
            await billing(request, staff).save_profile(family_id, body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, by_first_segment(PROFILE_FIELDS),
                             t("profile.error.refused"))
        else:
            return RedirectResponse(f"{finances_path(family_id)}?message=profil#profil",
                                    status_code=303)
    return await _finances_page(request, staff, family_id, form="profil", values=values,
                                errors=errors, status_code=status)


def _read_payment(form: Mapping[str, Any], family_id: str, errors: FormErrors,
                  t: Translator) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """What was typed, `ManualPaymentIn`, and the input of each allocation (body order)."""
    values: dict[str, Any] = {name: text(form, name) for name in _empty_payment()
                              if name != "imputations"}
    values["imputations"] = {name.removeprefix("imputation-"): text(form, name)
                             for name in form if name.startswith("imputation-")}
    method = values["paiement-moyen"]
    body: dict[str, Any] = {"family_id": family_id, "regie_code": values["paiement-regie"],
                            "method": method}
    if not values["paiement-regie"]:
        errors.add("paiement-regie", t("payment.error.regie"))
    if method not in DESK_METHODS:
        errors.add("paiement-moyen", t("payment.error.method"))
    amount = parse_euros(values["paiement-montant"])
    if amount is None or amount < 1:
        errors.add("paiement-montant", t("payment.error.amount"))
    body["amount_cents"] = amount
    body["received_on"] = parse_date(values["paiement-date"]) if values["paiement-date"] else None
    if body["received_on"] is None:
        errors.add("paiement-date", t("payment.error.date"))
    if method == "cheque":
        for field_id, key in (("paiement-cheque-emetteur", "payment.error.issuer"),
                              ("paiement-cheque-banque", "payment.error.bank"),
                              ("paiement-cheque-numero", "payment.error.number")):
            if not values[field_id]:
                errors.add(field_id, t(key))
        body["cheque"] = {"issuer": values["paiement-cheque-emetteur"],
                          "bank": values["paiement-cheque-banque"],
                          "number": values["paiement-cheque-numero"]}
    if values["paiement-reference"]:
        body["reference"] = values["paiement-reference"]
    allocations, allocation_ids = [], []
    for invoice_id, raw in values["imputations"].items():
        if not raw:
            continue
        cents = parse_euros(raw)
        field_id = f"imputation-{invoice_id}"
        try:
            checked_id(invoice_id)
        except HTTPException:
            continue  # not one of ours: ignored
        if cents is None or cents < 1:
            errors.add(field_id, t("payment.error.allocation"))
            continue
        allocations.append({"invoice_id": invoice_id, "amount_cents": cents})
        allocation_ids.append(field_id)
    if allocations:
        body["allocations"] = allocations
        if amount is not None and sum(a["amount_cents"] for a in allocations) > amount:
            errors.add(allocation_ids[0], t("payment.error.allocated_too_much"))
    return values, body, allocation_ids


@router.post("/familles/{family_id}/finances/paiement")
async def record_payment(request: Request, family_id: str,
                         staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    family_id = checked_id(family_id)
    errors, status = FormErrors(), 422
    values, body, allocation_ids = _read_payment(await request.form(), family_id, errors, t)

    def field_of(champ: str) -> str | None:
        parts = champ.split(".")
        if parts[0] == "allocations" and len(parts) > 1 and parts[1].isdigit() \
                and int(parts[1]) < len(allocation_ids):
            return allocation_ids[int(parts[1])]
        if parts[0] == "cheque" and len(parts) > 1:
            return {"issuer": "paiement-cheque-emetteur", "bank": "paiement-cheque-banque",
                    "number": "paiement-cheque-numero"}.get(parts[1])
        return PAYMENT_FIELDS.get(parts[0]) if parts[0] != "allocations" else None

    if not errors:
        try:
            await billing(request, staff).record_payment(body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, field_of, t("payment.error.refused"))
        else:
            return RedirectResponse(f"{finances_path(family_id)}?message=paiement#paiements",
                                    status_code=303)
    return await _finances_page(request, staff, family_id, form="paiement", values=values,
                                errors=errors, status_code=status)


@router.post("/familles/{family_id}/finances/mandats")
async def add_mandate(request: Request, family_id: str,
                      staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    family_id = checked_id(family_id)
    form = await request.form()
    values = {name: text(form, name) for name in _empty_mandate()}
    errors, status = FormErrors(), 422
    for field_id, key in (("mandat-regie", "mandate.error.regie"),
                          ("mandat-reference", "mandate.error.reference"),
                          ("mandat-titulaire", "mandate.error.debtor"),
                          ("mandat-iban", "mandate.error.iban"),
                          ("mandat-bic", "mandate.error.bic")):
        if not values[field_id]:
            errors.add(field_id, t(key))
    signed_on = parse_date(values["mandat-date"]) if values["mandat-date"] else None
    if signed_on is None:
        errors.add("mandat-date", t("mandate.error.date"))
    if not errors:
        body = {"regie_code": values["mandat-regie"], "reference": values["mandat-reference"],
                "debtor_name": values["mandat-titulaire"],
                "iban": values["mandat-iban"].replace(" ", "").upper(),
                "bic": values["mandat-bic"].replace(" ", "").upper(), "signed_on": signed_on}
        try:
            await billing(request, staff).add_mandate(family_id, body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, by_first_segment(MANDATE_FIELDS),
                             t("mandate.error.refused"))
        else:
            return RedirectResponse(f"{finances_path(family_id)}?message=mandat#mandats",
                                    status_code=303)
    return await _finances_page(request, staff, family_id, form="mandat", values=values,
                                errors=errors, status_code=status)


@router.post("/familles/{family_id}/finances/mandats/{mandate_id}/revoquer")
async def revoke_mandate(request: Request, family_id: str, mandate_id: str,
                         staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    family_id = checked_id(family_id)
    try:
        await billing(request, staff).revoke_mandate(checked_id(mandate_id))
    except UpstreamProblem as problem:
        errors = FormErrors()
        status = refused(errors, problem, lambda champ: None, t("mandate.error.revoke"))
        return await _finances_page(request, staff, family_id, form="mandat",
                                    values=_empty_mandate(), errors=errors, status_code=status)
    return RedirectResponse(f"{finances_path(family_id)}?message=mandat_revoque#mandats",
                            status_code=303)


# --- unpaid invoices, payments --------------------------------------------------------------------

@router.get(f"{SECTION}/impayes")
async def unpaid(request: Request, regie: str = "",
                 staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = billing(request, staff)
    regie_list = await api.regies()
    regie = chosen_regie(regie, regie_list)
    invoices = await api.invoices(regie=regie, unpaid=True)
    rows = sorted(invoices["invoices"], key=lambda i: (str(i.get("due_on") or ""),
                                                       i.get("number") or ""))
    return render(request, "billing_unpaid.html", page=PAGE, regies=regie_list, regie=regie,
                  invoices=rows, total_balance=invoices["total_balance_cents"])


@router.get(f"{SECTION}/paiements")
async def payments(request: Request, regie: str = "", moyen: str = "",
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = billing(request, staff)
    regie_list = await api.regies()
    regie = chosen_regie(regie, regie_list)
    moyen = moyen if moyen in METHODS else ""
    items = await api.payments(regie=regie, method=moyen)
    items = sorted(items, key=lambda p: str(p["created_at"]), reverse=True)
    return render(request, "billing_payments.html", page=PAGE, regies=regie_list, regie=regie,
                  moyen=moyen, methods=METHODS, payments=items,
                  total=sum(p["amount_cents"] for p in items if p["status"] == "acceptee"))


# --- SEPA direct debits ---------------------------------------------------------------------------

def _sepa_page(request: Request, regie_list: list[dict[str, Any]], values: dict[str, str],
               errors: FormErrors, collection: dict[str, Any] | None = None,
               status_code: int = 200) -> HTMLResponse:
    return render(request, "billing_sepa.html", page=PAGE, regies=regie_list, values=values,
                  errors=errors, collection=collection, status_code=status_code)


@router.get(f"{SECTION}/prelevements")
async def sepa_form(request: Request,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    regie_list = await billing(request, staff).regies()
    return _sepa_page(request, regie_list, {"regie": "", "date": ""}, FormErrors())


@router.post(f"{SECTION}/prelevements")
async def sepa_collect(request: Request,
                       staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = billing(request, staff)
    form = await request.form()
    values = {"regie": text(form, "regie"), "date": text(form, "date")}
    errors, status = FormErrors(), 422
    day = parse_date(values["date"]) if values["date"] else None
    if not values["regie"]:
        errors.add("regie", t("sepa.error.regie"))
    if day is None:
        errors.add("date", t("sepa.error.date"))
    collection = None
    if not errors:
        try:
            collection = await api.sepa_collection(values["regie"], day or "")
        except UpstreamProblem as problem:
            status = refused(errors, problem,
                             {"regie_code": "regie", "collection_date": "date"},
                             t("sepa.error.refused"))
        else:
            status = 201
    regie_list = await api.regies()
    return _sepa_page(request, regie_list, values, errors, collection,
                      status_code=200 if status == 201 else status)


@router.get(f"{SECTION}/prelevements/{{collection_id}}/pain.008.xml")
async def sepa_file(request: Request, collection_id: str,
                    staff: StaffSession = Depends(require_session)) -> Response:
    collection_id = checked_id(collection_id)
    download = await billing(request, staff).sepa_file(collection_id)
    return passed_on(download, f"prelevement-{collection_id}.xml", "; charset=utf-8")


# --- import of the previous system's open invoices ------------------------------------------------

def _import_page(request: Request, regie_list: list[dict[str, Any]], values: dict[str, str],
                 errors: FormErrors, result: dict[str, Any] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "billing_import.html", page=PAGE, regies=regie_list, values=values,
                  errors=errors, result=result, status_code=status_code)


@router.get(f"{SECTION}/reprise")
async def import_form(request: Request,
                      staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    regie_list = await billing(request, staff).regies()
    return _import_page(request, regie_list, {"regie": "", "csv": ""}, FormErrors())


@router.post(f"{SECTION}/reprise")
async def import_invoices(request: Request,
                          staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = billing(request, staff)
    form = await request.form()
    values = {"regie": text(form, "regie"), "csv": str(form.get("csv") or "")}
    errors, status = FormErrors(), 422
    content = values["csv"]
    upload = form.get("fichier")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            errors.add("fichier", t("import.error.too_big"))
        else:
            try:
                content = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                # Spreadsheets saved « CSV (séparateur : point-virgule) » on Windows.
                content = raw.decode("cp1252", errors="replace")
    if not values["regie"]:
        errors.add("regie", t("import.error.regie"))
    if not content.strip() and not errors.get("fichier"):
        errors.add("csv", t("import.error.empty"))
    result = None
    if not errors:
        try:
            result = await api.import_invoices(values["regie"], content)
        except UpstreamProblem as problem:
            status = refused(errors, problem, {"regie_code": "regie", "csv": "csv"},
                             t("import.error.refused"))
        else:
            status = 200
    regie_list = await api.regies()
    return _import_page(request, regie_list, values, errors, result, status_code=status)


# --- financial dashboard --------------------------------------------------------------------------

CHART_WIDTH = 640
BAR_HEIGHT = 14
ROW_HEIGHT = 58
LABEL_HEIGHT = 16
SERIES = ("invoiced_cents", "collected_cents", "outstanding_cents")


def report_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the bar chart (three bars per activity), drawn inline by the template."""
    peak = max([1, *(abs(int(r[key])) for r in rows for key in SERIES)])
    bars = []
    for i, row in enumerate(rows):
        top = i * ROW_HEIGHT
        bars.append({"label": row["activity_name"], "label_y": top + 12,
                     "bars": [{"key": key, "y": top + LABEL_HEIGHT + j * BAR_HEIGHT,
                               "width": max(round(abs(int(row[key])) * (CHART_WIDTH - 120) / peak),
                                            0),
                               "text": euros(row[key])}
                              for j, key in enumerate(SERIES)]})
    return {"width": CHART_WIDTH, "height": max(len(rows), 1) * ROW_HEIGHT + 30, "rows": bars,
            "bar_height": BAR_HEIGHT - 2, "legend_y": len(rows) * ROW_HEIGHT + 14}


@router.get(f"{SECTION}/tableau-de-bord")
async def dashboard(request: Request, regie: str = "", mois: str = "",
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = billing(request, staff)
    regie_list = await api.regies()
    errors = FormErrors()
    values = {"regie": regie, "mois": mois or current_month()}
    month = parse_month(values["mois"])
    report, query, status = None, "", 200
    if mois and month is None:
        errors.add("mois", t("run.error.month"))
        status = 422
    if regie and not chosen_regie(regie, regie_list):
        errors.add("regie", t("report.error.regie"))
        status = 422
    if regie and month and not errors:
        try:
            report = await api.report(regie, month)
        except UpstreamProblem as problem:
            status = refused(errors, problem, {"regie": "regie", "month": "mois"},
                             t("report.error.refused"))
        else:
            query = urlencode({"regie": regie, "mois": month})
    chart = report_chart(report["rows"]) if report else None
    return render(request, "billing_dashboard.html", page=PAGE, regies=regie_list, values=values,
                  errors=errors, report=report, chart=chart, query=query,
                  month=month_label(month) if month else "", status_code=status,
                  export={"regie": chosen_regie(regie, regie_list), "du": "", "au": ""})


@router.get(f"{SECTION}/tableau-de-bord.csv")
async def dashboard_csv(request: Request, regie: str = "", mois: str = "",
                        staff: StaffSession = Depends(require_session)) -> Response:
    month = parse_month(mois)
    if not regie or month is None:
        raise HTTPException(404)
    sheet = await billing(request, staff).report_csv(checked_code(regie), month)
    return passed_on(sheet, f"facturation-{regie}-{month}.csv", "; charset=utf-8")


@router.get(f"{SECTION}/export-comptable.csv")
async def accounting_export(request: Request, regie: str = "", du: str = "", au: str = "",
                            staff: StaffSession = Depends(require_session)) -> Response:
    """« Export comptable (CSV) » of the dashboard: billing's file passed on; a wrong choice
    shows the dashboard again with the reason."""
    t = Translator()
    api = billing(request, staff)
    regie_list = await api.regies()
    errors = FormErrors()
    first, last = parse_date(du), parse_date(au)
    if not chosen_regie(regie, regie_list):
        errors.add("export-regie", t("export.error.regie"))
    if first is None:
        errors.add("export-du", t("export.error.from"))
    if last is None:
        errors.add("export-au", t("export.error.to"))
    status = 422
    if not errors and first and last:
        try:
            sheet = await api.accounting_csv(regie, first, last)
        except UpstreamProblem as problem:
            status = refused(errors, problem, {"regie": "export-regie", "from": "export-du",
                                               "to": "export-au"}, t("export.error.refused"))
        else:
            return passed_on(sheet, f"export-comptable-{regie}-{first}-{last}.csv",
                             "; charset=utf-8")
    return render(request, "billing_dashboard.html", page=PAGE, regies=regie_list,
                  values={"regie": "", "mois": current_month()}, errors=errors, report=None,
                  chart=None, query="", month="", status_code=status,
                  export={"regie": regie, "du": du, "au": au})
