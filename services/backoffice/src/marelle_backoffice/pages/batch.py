"""The batch decision shared by the queues (registrations, contact-change requests).

A row's own button or a selection, a reason per row, one POST upstream, then the queue again
with each item's result: done, refused by its field, or no longer pending."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from starlette.datastructures import FormData

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text

_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")
_ITEM_FIELD = re.compile(r"^decisions\.(\d+)\.")

Items = list[dict[str, Any]]


class Selection(NamedTuple):
    decision: str
    ids: list[str]  # well-formed, without repeats, in the order sent
    reasons: dict[str, str]  # by id, as typed


class BatchQueue(NamedTuple):
    """What one queue's batch differs by."""
    decisions: tuple[str, ...]  # the allowed values of `decision`
    id_key: str  # the item id's name in the upstream's decisions and results
    none_selected: str  # said when no decision or no row was chosen
    refused: str  # said of a refusal that gives no reason


class BatchResult(NamedTuple):
    pending: Items  # the queue to show again
    errors: FormErrors
    done: list[dict[str, str]]
    selected: set[str]  # rows whose selection and reason are shown again
    reasons: dict[str, str]

    def page(self) -> dict[str, Any]:
        """The queue page's keyword arguments besides its items."""
        return {"errors": self.errors, "done": self.done, "selected": self.selected,
                "reasons": self.reasons, "status_code": 422 if self.errors else 200}


def read_selection(form: FormData) -> Selection:
    # A row's own button sends `une=<decision>:<id>`; the batch buttons `decision` + `selection`.
    single = text(form, "une")
    if single:
        decision, _, item_id = single.partition(":")
        ids = [item_id]
    else:
        decision = text(form, "decision")
        ids = [v for v in form.getlist("selection") if isinstance(v, str)]
    ids = list(dict.fromkeys(i for i in ids if _UUID.match(i)))
    return Selection(decision, ids, {i: text(form, f"motif-{i}") for i in ids})


async def decide_selection(
        queue: BatchQueue, selection: Selection, before: Items, errors: FormErrors, *,
        send: Callable[[Items], Awaitable[Items]], reload: Callable[[], Awaitable[Items]],
        done_row: Callable[[str], dict[str, str]],
        failure_summary: Callable[[str, str], str]) -> BatchResult:
    """Send the selection as one batch and say, row by row, what became of it.

    `before` is the queue as listed before deciding; `done_row(id)` is what the notice says of an
    item decided, `failure_summary(id, message)` the summary line of one refused."""
    decision, ids, reasons = selection
    if decision not in queue.decisions or not ids:
        if before:
            errors.add(f"choix-{before[0]['id']}", queue.none_selected)
        else:
            errors.general.append(queue.none_selected)
        return BatchResult(before, errors, [], set(), {})

    decisions = []
    for item_id in ids:
        item: dict[str, Any] = {queue.id_key: item_id, "decision": decision}
        if decision == "refuse" and reasons[item_id]:
            item["reason"] = reasons[item_id]
        decisions.append(item)
    failed: dict[str, str] = {}
    done: list[dict[str, str]] = []
    kept: set[str] = set()
    try:
        results = await send(decisions)
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
            errors.general.append(problem.detail or queue.refused)
    else:
        for result in results:
            item_id = str(result.get(queue.id_key))
            if result.get("ok"):
                done.append({**done_row(item_id), "decision": decision})
            else:
                failed[item_id] = result.get("detail") or queue.refused

    pending = await reload() if done else before
    still_pending = {str(r["id"]) for r in pending}
    for item_id, message in failed.items():
        summary = failure_summary(item_id, message)
        if item_id in still_pending:
            field = f"motif-{item_id}" if decision == "refuse" else f"choix-{item_id}"
            errors.add(field, message, summary=summary)
        else:
            errors.general.append(summary)
    kept |= set(failed)
    return BatchResult(pending, errors, done, kept, {i: reasons.get(i, "") for i in kept})
