"""The queue of contact-change requests: accept or refuse, one at a time or a selection."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import change_rows, sort_key_created
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, identity, require_session

router = APIRouter()

PATH = "/demandes/coordonnees"
DECISIONS = ("accept", "refuse")
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")
_ITEM_FIELD = re.compile(r"^decisions\.(\d+)\.")


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
    form = await request.form()
    # A row's own button sends `une=accept:<id>`; the batch buttons send `decision` + `selection`.
    single = text(form, "une")
    if single:
        decision, _, request_id = single.partition(":")
        ids = [request_id]
    else:
        decision = text(form, "decision")
        ids = [v for v in form.getlist("selection") if isinstance(v, str)]
    ids = list(dict.fromkeys(i for i in ids if _UUID.match(i)))
    reasons = {i: text(form, f"motif-{i}") for i in ids}
    before = sorted(await api.pending_requests(), key=sort_key_created)
    names = {str(r["id"]): r.get("family_name") or "" for r in before}
    errors = FormErrors()
    if decision not in DECISIONS or not ids:
        first = f"choix-{before[0]['id']}" if before else None
        if first:
            errors.add(first, t("requests.error.none_selected"))
        else:
            errors.general.append(t("requests.error.none_selected"))
        return _queue_page(request, before, errors=errors, status_code=422)

    decisions = []
    for request_id in ids:
        item: dict[str, Any] = {"request_id": request_id, "decision": decision}
        if decision == "refuse" and reasons[request_id]:
            item["reason"] = reasons[request_id]
        decisions.append(item)
    failed: dict[str, str] = {}
    done: list[dict[str, str]] = []
    kept: set[str] = set()  # rows whose selection and reason are shown again
    try:
        results = await api.decide(decisions)
    except UpstreamProblem as problem:
        if problem.status != 422:
            raise
        # The whole batch refused (field `decisions.<n>.…`): nothing was applied, keep it all.
        kept = set(ids)
        for error in problem.errors:
            match = _ITEM_FIELD.match(error["champ"])
            if match and int(match.group(1)) < len(ids):
                failed.setdefault(ids[int(match.group(1))], error["message"])
            else:
                errors.general.append(error["message"])
        if not problem.errors:
            errors.general.append(problem.detail or t("requests.error.refused"))
    else:
        for result in results:
            request_id = str(result.get("request_id"))
            if result.get("ok"):
                done.append({"family": names.get(request_id, ""), "decision": decision})
            else:
                failed[request_id] = result.get("detail") or t("requests.error.refused")

    pending = await api.pending_requests() if done else before
    still_pending = {str(r["id"]) for r in pending}
    for request_id, message in failed.items():
        field = f"motif-{request_id}" if decision == "refuse" else f"choix-{request_id}"
        family = names.get(request_id) or t("requests.unknown_family")
        if request_id in still_pending:
            errors.add(field, message, summary=t("requests.error.item", family=family,
                                                 message=message))
        else:
            errors.general.append(t("requests.error.item", family=family, message=message))
    kept |= set(failed)
    return _queue_page(request, pending, errors=errors, done=done, selected=kept,
                       reasons={i: reasons.get(i, "") for i in kept},
                       status_code=422 if errors else 200)
