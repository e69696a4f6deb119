"""The queue of contact-change requests: accept or refuse, one at a time or a selection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice.forms import FormErrors
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.batch import BatchQueue, decide_selection, read_selection
from marelle_backoffice.pages.common import change_rows, sort_key_created
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, identity, require_session

router = APIRouter()

PATH = "/demandes/coordonnees"
DECISIONS = ("accept", "refuse")


def _queue_page(request: Request, pending: list[dict[str, Any]], *,
                errors: FormErrors | None = None, done: list[dict[str, str]] | None = None,
                selected: set[str] | None = None, reasons: dict[str, str] | None = None,
                status_code: int = 200) -> HTMLResponse:
    items = [{**r, "id": str(r["id"]), "rows": change_rows(r.get("changes"))}
             for r in sorted(pending, key=sort_key_created)]
    return render(request, "requests.html", page="requests", items=items,
                  errors=errors or FormErrors(), done=done or [], selected=selected or set(),
                  reasons=reasons or {}, status_code=status_code)


@router.get(PATH)
async def queue(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return _queue_page(request, await identity(request, staff).pending_requests())


@router.post(PATH)
async def decide(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = identity(request, staff)
    selection = read_selection(await request.form())
    before = sorted(await api.pending_requests(), key=sort_key_created)
    names = {str(r["id"]): r.get("family_name") or "" for r in before}

    def failure_summary(request_id: str, message: str) -> str:
        family = names.get(request_id) or t("requests.unknown_family")
        return t("requests.error.item", family=family, message=message)

    batch = BatchQueue(DECISIONS, "request_id", none_selected=t("requests.error.none_selected"),
                       refused=t("requests.error.refused"))
    result = await decide_selection(
        batch, selection, before, FormErrors(), send=api.decide, reload=api.pending_requests,
        done_row=lambda request_id: {"family": names.get(request_id, "")},
        failure_summary=failure_summary)
    return _queue_page(request, result.pending, **result.page())
