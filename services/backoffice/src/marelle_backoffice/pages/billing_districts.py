"""« Quartiers »: the city's districts, kept in billing next to residency (issue #10, districts
at different times). Staff add, rename and delete them here; a household's district is set on
its financial profile (« Finances »), and a period's form gives each district its own opening.
"""

from __future__ import annotations

import re
import unicodedata

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.billing import billing
from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.billing_common import SECTION, refused
from marelle_backoffice.pages.common import flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, require_session

router = APIRouter()

PATH = f"{SECTION}/quartiers"
FLASHES = ("cree", "renomme", "supprime")
FIELDS = {"code": "quartier-code", "label": "quartier-libelle"}
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")


def slug(label: str) -> str:
    """« Centre-Ville Est » → `centre-ville-est`: the code proposed when none is typed."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:30].strip("-")


def _checked(code: str) -> str:
    """A district code in a URL: anything else is a 404, never a path to forward."""
    if not _CODE.match(code):
        raise HTTPException(404)
    return code


async def _page(request: Request, staff: StaffSession, *, values: dict[str, str] | None = None,
                errors: FormErrors | None = None,
                status_code: int = 200) -> HTMLResponse:
    districts = await billing(request, staff).districts()
    return render(request, "billing_districts.html", page="billing", districts=districts,
                  values=values or {"quartier-code": "", "quartier-libelle": ""},
                  errors=errors or FormErrors(),
                  message=flash(request, FLASHES), status_code=status_code)


@router.get(PATH)
async def districts(request: Request,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _page(request, staff)


@router.post(PATH)
async def add_district(request: Request,
                       staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    form = await request.form()
    values = {name: text(form, name) for name in ("quartier-code", "quartier-libelle")}
    errors, status = FormErrors(), 422
    if not values["quartier-libelle"]:
        errors.add("quartier-libelle", t("districts.error.label"))
    code = values["quartier-code"].lower() or slug(values["quartier-libelle"])
    if values["quartier-libelle"] and not _CODE.match(code):
        errors.add("quartier-code", t("districts.error.code"))
    if not errors:
        try:
            await billing(request, staff).create_district(
                {"code": code, "label": values["quartier-libelle"]})
        except UpstreamProblem as problem:
            status = refused(errors, problem, FIELDS, t("districts.error.refused"))
        else:
            return RedirectResponse(f"{PATH}?message=cree#quartier-{code}", status_code=303)
    return await _page(request, staff, values=values, errors=errors, status_code=status)


@router.post(PATH + "/{code}/renommer")
async def rename_district(request: Request, code: str,
                          staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    code = _checked(code)
    label = text(await request.form(), f"libelle-{code}")
    errors, status = FormErrors(), 422
    field_id = f"libelle-{code}"
    if not label:
        errors.add(field_id, t("districts.error.label"))
    else:
        try:
            await billing(request, staff).rename_district(code, label)
        except UpstreamProblem as problem:
            status = refused(errors, problem, {"label": field_id},
                             t("districts.error.refused"))
        else:
            return RedirectResponse(f"{PATH}?message=renomme#quartier-{code}", status_code=303)
    return await _page(request, staff, errors=errors, status_code=status)


@router.post(PATH + "/{code}/supprimer")
async def delete_district(request: Request, code: str,
                          staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    code = _checked(code)
    errors = FormErrors()
    try:
        await billing(request, staff).delete_district(code)
    except UpstreamProblem as problem:
        # Still used by households: billing's sentence, at the top of the list.
        status = refused(errors, problem, {}, t("districts.error.refused"))
        return await _page(request, staff, errors=errors, status_code=status)
    return RedirectResponse(f"{PATH}?message=supprime", status_code=303)

