"""« Facturation »: the section's index and its settings — régies, QF brackets, tariffs.

Each form builds billing's own request body (`RegieIn`, `BracketsIn`, `TariffIn`) and checks it
through that model before sending: what billing would refuse is said by the field, without a
round trip; billing's own 409/422 go by the field they name too. Prices are typed in euros
(« 3,50 ») and sent in cents.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.billing import billing, cents_text, parse_euros
from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.billing_common import (
    SECTION,
    by_first_segment,
    checked_code,
    chosen_regie,
    refused,
    regie_options,
)
from marelle_backoffice.pages.common import checked_id, flash, parse_date
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, require_session

router = APIRouter()

PAGE = "billing"
REGIE_FLASHES = ("creee", "modifiee")
BRACKET_FLASHES = ("enregistrees",)
TARIFF_FLASHES = ("cree", "modifie", "supprime")
BACKENDS = ("dummy", "tipi", "payfip_ws", "payzen", "systempayv2", "paybox", "ogone", "sips2")
EXTRA_BRACKET_ROWS = 2
MAX_BRACKET_ROWS = 30
# Price columns: the residency a price applies to (None: anyone).
RESIDENCIES = {"tous": None, "resident": True, "non_resident": False}
DEFAULT_ROW = "defaut"
_OPTION = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(.*?)\s*$")


@router.get(SECTION)
async def section(request: Request) -> HTMLResponse:
    """The section's index: links only (no call, so it shows even when billing is down)."""
    return render(request, "billing_index.html", page=PAGE)


# --- régies ---------------------------------------------------------------------------------------

REGIE_FIELDS = {"code": "code", "name": "nom", "invoice_prefix": "prefixe-facture",
                "credit_prefix": "prefixe-avoir", "partial_payment_allowed": "paiement-partiel",
                "due_days": "delai", "payment_backend": "backend", "payment_options": "options",
                "creditor_name": "creancier-nom", "creditor_iban": "creancier-iban",
                "creditor_bic": "creancier-bic", "creditor_id": "creancier-ics",
                "accounting_code": "code-comptable"}
_REGIE_TEXTS = ("code", "nom", "prefixe-facture", "prefixe-avoir", "delai", "backend", "options",
                "creancier-nom", "creancier-iban", "creancier-bic", "creancier-ics",
                "code-comptable")


@router.get(f"{SECTION}/regies")
async def regies(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    items = await billing(request, staff).regies()
    return render(request, "billing_regies.html", page=PAGE, regies=items,
                  message=flash(request, REGIE_FLASHES))


def _regie_values(regie: Mapping[str, Any] | None) -> dict[str, Any]:
    r: Mapping[str, Any] = regie or {}
    return {"code": r.get("code", ""), "nom": r.get("name", ""),
            "prefixe-facture": r.get("invoice_prefix", "F"),
            "prefixe-avoir": r.get("credit_prefix", "AV"),
            "paiement-partiel": bool(r.get("partial_payment_allowed", False)),
            "delai": str(r.get("due_days", 30)), "backend": r.get("payment_backend", "dummy"),
            "options": "", "creancier-nom": r.get("creditor_name") or "",
            "creancier-iban": r.get("creditor_iban") or "",
            "creancier-bic": r.get("creditor_bic") or "",
            "creancier-ics": r.get("creditor_id") or "",
            "code-comptable": r.get("accounting_code") or ""}


def _regie_body(values: dict[str, Any], errors: FormErrors, t: Translator) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": values["code"], "name": values["nom"],
        "invoice_prefix": values["prefixe-facture"].upper(),
        "credit_prefix": values["prefixe-avoir"].upper(),
        "partial_payment_allowed": values["paiement-partiel"],
        "payment_backend": values["backend"] or "dummy",
    }
    if not values["code"]:
        errors.add("code", t("regie.error.code"))
    if not values["nom"]:
        errors.add("nom", t("regie.error.name"))
    if not values["delai"].isdigit() or int(values["delai"]) > 120:
        errors.add("delai", t("regie.error.due_days"))
    else:
        body["due_days"] = int(values["delai"])
    options: dict[str, str] = {}
    for number, line in enumerate(values["options"].splitlines(), start=1):
        if not line.strip():
            continue
        match = _OPTION.match(line)
        if not match:
            errors.add("options", t("regie.error.option_line", line=number))
        else:
            options[match.group(1)] = match.group(2)
    # Billing never shows the options again (they hold the provider's secrets): left empty, the
    # key stays out of the body.
    if options:
        body["payment_options"] = options
    for field_id, key in (("creancier-nom", "creditor_name"), ("creancier-iban", "creditor_iban"),
                          ("creancier-bic", "creditor_bic"), ("creancier-ics", "creditor_id"),
                          ("code-comptable", "accounting_code")):
        value = values[field_id].replace(" ", "") if key == "creditor_iban" else values[field_id]
        body[key] = value or None
    return body


def _read_regie(form: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name) for name in _REGIE_TEXTS}
    values["options"] = str(form.get("options") or "")
    values["paiement-partiel"] = form.get("paiement-partiel") == "oui"
    return values


def _regie_page(request: Request, values: dict[str, Any], errors: FormErrors, *,
                code: str | None, status_code: int = 200) -> HTMLResponse:
    return render(request, "billing_regie_form.html", page=PAGE, values=values, errors=errors,
                  code=code, backends=BACKENDS, status_code=status_code)


@router.get(f"{SECTION}/regies/nouvelle")
async def new_regie(request: Request) -> HTMLResponse:
    return _regie_page(request, _regie_values(None), FormErrors(), code=None)


@router.get(f"{SECTION}/regies/{{code}}/modifier")
async def edit_regie(request: Request, code: str,
                     staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    code = checked_code(code)
    regie = next((r for r in await billing(request, staff).regies() if r["code"] == code), None)
    if regie is None:
        raise HTTPException(404)
    return _regie_page(request, _regie_values(regie), FormErrors(), code=code)


async def _save_regie(request: Request, staff: StaffSession, code: str | None) -> Response:
    t = Translator()
    values = _read_regie(await request.form())
    if code is not None:
        values["code"] = code  # the code names the régie: not changed by its form
    errors, status = FormErrors(), 422
    body = _regie_body(values, errors, t)
    if not errors:
        api = billing(request, staff)
        try:
            if code is None:
                await api.create_regie(body)
            else:
                await api.update_regie(code, body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, by_first_segment(REGIE_FIELDS),
                             t("regie.error.refused"))
        else:
            message = "creee" if code is None else "modifiee"
            return RedirectResponse(f"{SECTION}/regies?message={message}", status_code=303)
    return _regie_page(request, values, errors, code=code, status_code=status)


@router.post(f"{SECTION}/regies/nouvelle")
async def create_regie(request: Request,
                       staff: StaffSession = Depends(require_session)) -> Response:
    return await _save_regie(request, staff, None)


@router.post(f"{SECTION}/regies/{{code}}/modifier")
async def update_regie(request: Request, code: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    return await _save_regie(request, staff, checked_code(code))


# --- QF brackets ----------------------------------------------------------------------------------

BRACKET_COLUMNS = {"code": "code", "label": "libelle", "qf_min": "min", "qf_max": "max"}


def _bracket_page(request: Request, rows: list[dict[str, str]], errors: FormErrors,
                  status_code: int = 200) -> HTMLResponse:
    return render(request, "billing_brackets.html", page=PAGE, rows=rows, errors=errors,
                  message=flash(request, BRACKET_FLASHES), status_code=status_code)


def _empty_bracket() -> dict[str, str]:
    return {"code": "", "libelle": "", "min": "", "max": ""}


@router.get(f"{SECTION}/tranches")
async def brackets(request: Request,
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    items = await billing(request, staff).brackets()
    rows = [{"code": b["code"], "libelle": b["label"], "min": str(b["qf_min"]),
             "max": "" if b.get("qf_max") is None else str(b["qf_max"])} for b in items]
    rows += [_empty_bracket() for _ in range(EXTRA_BRACKET_ROWS)]
    return _bracket_page(request, rows, FormErrors())


@router.post(f"{SECTION}/tranches")
async def save_brackets(request: Request,
                        staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    form = await request.form()
    count = min(max(_int(text(form, "lignes")), 1), MAX_BRACKET_ROWS + EXTRA_BRACKET_ROWS)
    rows = [{name: text(form, f"tranche-{i}-{name}") for name in ("code", "libelle", "min", "max")}
            for i in range(count)]
    errors, status = FormErrors(), 422
    body, used = [], []
    for i, row in enumerate(rows):
        if not any(row.values()):
            continue
        if not row["code"]:
            errors.add(f"tranche-{i}-code", t("bracket.error.code", row=i + 1))
        if not row["libelle"]:
            errors.add(f"tranche-{i}-libelle", t("bracket.error.label", row=i + 1))
        if not row["min"].isdigit():
            errors.add(f"tranche-{i}-min", t("bracket.error.qf", row=i + 1))
        if row["max"] and not row["max"].isdigit():
            errors.add(f"tranche-{i}-max", t("bracket.error.qf", row=i + 1))
        elif row["max"] and row["min"].isdigit() and int(row["max"]) < int(row["min"]):
            errors.add(f"tranche-{i}-max", t("bracket.error.order", row=i + 1))
        body.append({"code": row["code"], "label": row["libelle"], "qf_min": _int(row["min"]),
                     "qf_max": int(row["max"]) if row["max"].isdigit() else None})
        used.append(i)
    if not body:
        errors.add("tranche-0-code", t("bracket.error.none"))

    def field_of(champ: str) -> str | None:
        parts = champ.split(".")
        if len(parts) >= 3 and parts[0] == "brackets" and parts[1].isdigit() \
                and int(parts[1]) < len(used) and parts[2] in BRACKET_COLUMNS:
            return f"tranche-{used[int(parts[1])]}-{BRACKET_COLUMNS[parts[2]]}"
        return None

    if not errors:
        try:
            await billing(request, staff).save_brackets(body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, field_of, t("bracket.error.refused"))
        else:
            return RedirectResponse(f"{SECTION}/tranches?message=enregistrees", status_code=303)
    if len(rows) < MAX_BRACKET_ROWS and all(any(r.values()) for r in rows):
        rows.append(_empty_bracket())
    return _bracket_page(request, rows, errors, status)


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


# --- tariffs --------------------------------------------------------------------------------------

def price_summary(prices: list[dict[str, Any]], brackets: dict[str, str]) -> list[tuple[str, int]]:
    """The tariff's prices as (« Tranche A — résidents », cents), in the brackets' order."""
    t = Translator()
    order = {code: i for i, code in enumerate(brackets)}
    rows = []
    for price in sorted(prices, key=lambda p: (p.get("bracket_code") is None,
                                               order.get(p.get("bracket_code") or "", 99),
                                               str(p.get("resident")))):
        code = price.get("bracket_code")
        label = brackets.get(code, code) if code else t("tariff.default_price")
        resident = price.get("resident")
        if resident is not None:
            label += " — " + t("tariff.residents" if resident else "tariff.non_residents")
        rows.append((label, price["price_cents"]))
    return rows


@router.get(f"{SECTION}/tarifs")
async def tariffs(request: Request, regie: str = "", activite: str = "",
                  staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = billing(request, staff)
    activite = activite.strip()[:120]
    regie_list, bracket_list = await asyncio.gather(api.regies(), api.brackets())
    regie = chosen_regie(regie, regie_list)
    items = await api.tariffs(regie, activite)
    labels = {b["code"]: b["label"] for b in bracket_list}
    rows = [{**item, "price_rows": price_summary(item["prices"], labels)}
            for item in sorted(items, key=lambda i: (i["regie_code"], i["activity_name"],
                                                     i["unit"], str(i["valid_from"])))]
    return render(request, "billing_tariffs.html", page=PAGE, regies=regie_list, regie=regie,
                  activite=activite, tariffs=rows, message=flash(request, TARIFF_FLASHES),
                  error=request.query_params.get("erreur") == "utilise")


def _tariff_values(tariff: Mapping[str, Any] | None,
                   bracket_codes: list[str]) -> dict[str, Any]:
    tf: Mapping[str, Any] = tariff or {}
    values: dict[str, Any] = {
        "regie": tf.get("regie_code", ""), "activite": tf.get("activity_name", ""),
        "unite": tf.get("unit", ""), "libelle": tf.get("label", ""),
        "du": _dmy(tf.get("valid_from")), "au": _dmy(tf.get("valid_to")),
        "repas": bool(tf.get("meal", False)),
        "presence": bool(tf.get("unbooked_presence", False)),
        "majoration": cents_text(tf.get("surcharge_cents")) if tf.get("surcharge_cents") else "",
        "absence": str(tf.get("unjustified_absence_percent", 100)),
        "prix": {},
    }
    for price in tf.get("prices") or []:
        row = price.get("bracket_code") or DEFAULT_ROW
        column = next(k for k, v in RESIDENCIES.items() if v == price.get("resident"))
        values["prix"][f"prix-{row}-{column}"] = cents_text(price["price_cents"])
    return values


def _dmy(value: Any) -> str:
    """An ISO day as the form shows it (`JJ/MM/AAAA`)."""
    iso = parse_date(str(value)) if value else None
    return "/".join(reversed(iso.split("-"))) if iso else ""


TARIFF_FIELDS = {"regie_code": "regie", "activity_name": "activite", "unit": "unite",
                 "label": "libelle", "valid_from": "du", "valid_to": "au", "meal": "repas",
                 "unbooked_presence": "presence", "surcharge_cents": "majoration",
                 "unjustified_absence_percent": "absence"}


class TariffForm:
    """The tariff form read back: what was typed, billing's body, the input of each price."""

    def __init__(self, form: Mapping[str, Any], bracket_codes: list[str], t: Translator) -> None:
        self.errors = errors = FormErrors()
        rows = [*bracket_codes, DEFAULT_ROW]
        values: dict[str, Any] = {name: text(form, name) for name in
                                  ("regie", "activite", "unite", "libelle", "du", "au",
                                   "majoration", "absence")}
        values["repas"] = form.get("repas") == "oui"
        values["presence"] = form.get("presence") == "oui"
        values["prix"] = {f"prix-{r}-{c}": text(form, f"prix-{r}-{c}")
                          for r in rows for c in RESIDENCIES}
        self.values = values
        self.price_ids: list[str] = []
        for field_id, key in (("regie", "tariff.error.regie"),
                              ("activite", "tariff.error.activity"),
                              ("unite", "tariff.error.unit"), ("libelle", "tariff.error.label")):
            if not values[field_id]:
                errors.add(field_id, t(key))
        valid_from = parse_date(values["du"]) if values["du"] else None
        if valid_from is None:
            errors.add("du", t("tariff.error.from"))
        valid_to = None
        if values["au"]:
            valid_to = parse_date(values["au"])
            if valid_to is None:
                errors.add("au", t("tariff.error.to"))
            elif valid_from and valid_to < valid_from:
                errors.add("au", t("tariff.error.order"))
        surcharge = 0
        if values["majoration"]:
            parsed = parse_euros(values["majoration"])
            if parsed is None or parsed < 0:
                errors.add("majoration", t("tariff.error.amount"))
            else:
                surcharge = parsed
        absence = values["absence"] or "100"
        if not absence.isdigit() or int(absence) > 100:
            errors.add("absence", t("tariff.error.percent"))
        prices = []
        for row in rows:
            for column, resident in RESIDENCIES.items():
                field_id = f"prix-{row}-{column}"
                raw = values["prix"][field_id]
                if not raw:
                    continue
                cents = parse_euros(raw)
                if cents is None or cents < 0:
                    errors.add(field_id, t("tariff.error.price"),
                               summary=t("tariff.error.price_of", value=raw[:20]))
                    continue
                prices.append({"bracket_code": None if row == DEFAULT_ROW else row,
                               "resident": resident, "price_cents": cents})
                self.price_ids.append(field_id)
        if not prices:
            errors.add(f"prix-{DEFAULT_ROW}-tous", t("tariff.error.no_price"))
        self.body = {
            "regie_code": values["regie"], "activity_name": values["activite"],
            "unit": values["unite"], "label": values["libelle"], "valid_from": valid_from,
            "valid_to": valid_to, "meal": values["repas"], "prices": prices,
            "unbooked_presence": values["presence"], "surcharge_cents": surcharge,
            "unjustified_absence_percent": int(absence) if absence.isdigit() else 100,
        }

    def field_of(self, champ: str) -> str | None:
        parts = champ.split(".")
        if parts[0] == "prices":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(self.price_ids):
                return self.price_ids[int(parts[1])]
            return f"prix-{DEFAULT_ROW}-tous"
        return TARIFF_FIELDS.get(parts[0])


async def _tariff_page(request: Request, api: Any, values: dict[str, Any], errors: FormErrors,
                       *, tariff_id: str | None, regie_list: list[dict[str, Any]] | None = None,
                       bracket_list: list[dict[str, Any]] | None = None,
                       status_code: int = 200) -> HTMLResponse:
    if regie_list is None or bracket_list is None:
        regie_list, bracket_list = await asyncio.gather(api.regies(), api.brackets())
    return render(request, "billing_tariff_form.html", page=PAGE, values=values, errors=errors,
                  tariff_id=tariff_id, regie_options=regie_options(regie_list),
                  price_rows=[*((b["code"], b["label"]) for b in bracket_list),
                              (DEFAULT_ROW, Translator()("tariff.default_price"))],
                  default_row=DEFAULT_ROW, residencies=list(RESIDENCIES),
                  status_code=status_code)


@router.get(f"{SECTION}/tarifs/nouveau")
async def new_tariff(request: Request,
                     staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = billing(request, staff)
    regie_list, bracket_list = await asyncio.gather(api.regies(), api.brackets())
    values = _tariff_values(None, [b["code"] for b in bracket_list])
    values["regie"] = chosen_regie(request.query_params.get("regie", ""), regie_list)
    return await _tariff_page(request, api, values, FormErrors(), tariff_id=None,
                              regie_list=regie_list, bracket_list=bracket_list)


@router.get(f"{SECTION}/tarifs/{{tariff_id}}/modifier")
async def edit_tariff(request: Request, tariff_id: str,
                      staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    tariff_id = checked_id(tariff_id)
    api = billing(request, staff)
    regie_list, bracket_list, items = await asyncio.gather(api.regies(), api.brackets(),
                                                           api.tariffs())
    tariff = next((i for i in items if str(i["tariff_id"]) == tariff_id), None)
    if tariff is None:
        raise HTTPException(404)
    values = _tariff_values(tariff, [b["code"] for b in bracket_list])
    return await _tariff_page(request, api, values, FormErrors(), tariff_id=tariff_id,
                              regie_list=regie_list, bracket_list=bracket_list)


async def _save_tariff(request: Request, staff: StaffSession, tariff_id: str | None) -> Response:
    t = Translator()
    api = billing(request, staff)
    regie_list, bracket_list = await asyncio.gather(api.regies(), api.brackets())
    read = TariffForm(await request.form(), [b["code"] for b in bracket_list], t)
    errors, status = read.errors, 422
    if not errors:
        try:
            if tariff_id is None:
                await api.create_tariff(read.body)
            else:
                await api.update_tariff(tariff_id, read.body)
        except UpstreamProblem as problem:
            status = refused(errors, problem, read.field_of, t("tariff.error.refused"))
        else:
            message = "cree" if tariff_id is None else "modifie"
            return RedirectResponse(f"{SECTION}/tarifs?message={message}", status_code=303)
    return await _tariff_page(request, api, read.values, errors, tariff_id=tariff_id,
                              regie_list=regie_list, bracket_list=bracket_list,
                              status_code=status)


@router.post(f"{SECTION}/tarifs/nouveau")
async def create_tariff(request: Request,
                        staff: StaffSession = Depends(require_session)) -> Response:
    return await _save_tariff(request, staff, None)


@router.post(f"{SECTION}/tarifs/{{tariff_id}}/modifier")
async def update_tariff(request: Request, tariff_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    return await _save_tariff(request, staff, checked_id(tariff_id))


@router.post(f"{SECTION}/tarifs/{{tariff_id}}/supprimer")
async def delete_tariff(request: Request, tariff_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    try:
        await billing(request, staff).delete_tariff(checked_id(tariff_id))
    except UpstreamProblem as problem:
        if problem.status != 409:
            raise
        # Already used by an invoice line: the list says so.
        return RedirectResponse(f"{SECTION}/tarifs?erreur=utilise", status_code=303)
    return RedirectResponse(f"{SECTION}/tarifs?message=supprime", status_code=303)
