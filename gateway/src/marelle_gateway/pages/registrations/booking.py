"""« Mes réservations » (the month grid, « Affecter les Groupes », « Réservation selon une semaine
type »), « Mes navettes » and the calendar (ICS) of a validated registration, against booking.

Without JavaScript: the grid is a form of checkboxes (hidden inputs carry the initial state, so
« Valider » sends only what changed: newly checked → `reserver`, newly unchecked → `annuler`);
each result is shown above the grid. The registration (header, sub-menu, validated or not) is
enrolment's; the grid and everything booked are booking's, both asked with the token's family
(another family's ids are their 404, shown as « Page introuvable »).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from marelle_contracts.http.booking import (
    BookingTicketDay,
    BookingTicketRequest,
    CalendarDay,
    CalendarMonth,
    GroupAssignmentIn,
    ReservationChange,
    ReservationChangesIn,
    ReservationResult,
    ShuttleBookingIn,
    ShuttleResult,
    TypicalWeekIn,
    WeekdayUnitsIn,
)
from marelle_contracts.http.queue import IF_SOME_FULL, Ticket

from marelle_gateway.booking import (
    FEED_TOKEN,
    ICS,
    BookingClient,
    child_ics_path,
    feed_path,
    public_feed_url,
)
from marelle_gateway.enrolment_models import Registration
from marelle_gateway.forms import UPSTREAM_LANGUAGE, FormErrors, parse_date
from marelle_gateway.i18n import Translator
from marelle_gateway.pages.registrations.common import (
    ANY_PROBLEM,
    load_registration,
    page_errors,
    today,
)
from marelle_gateway.pages.registrations.booking_queue import retry_seconds, ticket_url
from marelle_gateway.pages.registrations.detail import BASE, registration_page
from marelle_gateway.pages.registrations.openings import countdown
from marelle_gateway.rendering import translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable, problem_of

class NotBookable(Exception):
    """booking's 409 for a registration enrolment says is validated (booking's copy follows
    enrolment's events, a moment later; or the registration was just cancelled)."""

    def __init__(self, registration: Registration, detail: str) -> None:
        super().__init__(detail)
        self.registration = registration
        self.detail = detail


class BookingRoute(APIRoute):
    """Every booking page: `NotBookable` becomes the page with booking's sentence."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except NotBookable as exc:
                section = "navettes" if request.url.path.endswith("/navettes") else \
                    "reservations"
                return registration_page(request, exc.registration, section,
                                         template="booking.html", calendar=None,
                                         not_bookable=exc.detail, status_code=409)

        return guarded


router = APIRouter(route_class=BookingRoute)

# The guide's rows, in its order (`booking.kind.<kind>`: « Accueils », « Suppléments »,
# « Journée »).
KINDS = ("accueil", "supplement", "journee")
# Visible state of a cell (`booking.state.<state>`, `booking.state.short.<state>`).
STATES = ("libre", "reservee", "liste_attente", "complet", "ferme", "passe")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
UNIT = re.compile(r"^[a-z0-9_-]{1,40}$")
MAX_CHANGES = 400  # booking's limit (ReservationChangesIn)
MAX_TICKET_DAYS = 250  # booking's limit (BookingTicketRequest)
KEY = re.compile(r"^[A-Za-z0-9_.:-]+$")  # booking's IdempotencyKey
MAX_DAYS = 62  # booking's limit (GroupAssignmentIn, ShuttleBookingIn)
DIRECTIONS = ("aller", "retour")  # `booking.direction.<direction>`
SHUTTLE_ACTIONS = ("reserver", "annuler")  # `booking.shuttle.action.<action>`


def booking_of(request: Request) -> BookingClient:
    return request.app.state.upstreams.booking


# --- The grid as the page reads it -----------------------------------------------------------

@dataclass
class Cell:
    id: str  # the checkbox's id
    value: str  # « 2026-10-20|repas »: what the form sends
    state: str
    checked: bool
    enabled: bool
    label: str  # « Repas, mardi 20 octobre »
    status: str  # « Réservé », « Liste d'attente n° 3 », « Fermé : Jour férié »…
    position: int | None = None
    reason: str | None = None
    # Booked or waitlisted now (the form's hidden « initial »): `checked` may differ, when the
    # family's choices come back (an early or overloaded opening submission).
    initial: bool = False


@dataclass
class Row:
    code: str
    label: str
    cells: list[Cell]


@dataclass
class Section:
    kind: str
    rows: list[Row]


@dataclass
class DayHead:
    day: date
    open: bool


@dataclass
class Grid:
    days: list[DayHead]
    sections: list[Section]
    # Why cells cannot be changed: (reason, the days it applies to), in the order met.
    reasons: list[tuple[str, list[date]]] = field(default_factory=list)


def cell_value(day: date, unit: str) -> str:
    return f"{day.isoformat()}|{unit}"


def build_grid(calendar: CalendarMonth, t: Translator, *, rush: Rush | None = None,
               chosen: Iterable[str] | None = None, add_only: bool = False) -> Grid:
    """The grid; at a booking opening (`rush`), the days the opening's queue will accept are
    selectable before it, and the family's `chosen` cells are checked again (`add_only`: only
    days to book, never unchecking a booked one — choices from a link, not from a form)."""
    labels = {u.code: u.label for u in calendar.units}
    heads = [DayHead(d.day, d.open) for d in calendar.days]
    reasons: dict[str, list[date]] = {}
    picked = set(chosen) if chosen is not None else None
    sections = []
    for kind in KINDS:
        rows = []
        for unit in (u for u in calendar.units if u.kind == kind):
            cells = []
            for day in calendar.days:
                cell = _cell(day, unit.code, labels[unit.code], t, reasons,
                             at_opening=rush is not None)
                if picked is not None and cell.enabled and not (add_only and cell.initial):
                    cell.checked = cell.value in picked
                cells.append(cell)
            rows.append(Row(unit.code, unit.label, cells))
        if rows:
            sections.append(Section(kind, rows))
    return Grid(heads, sections, list(reasons.items()))


def _cell(day: CalendarDay, unit: str, unit_label: str, t: Translator,
          reasons: dict[str, list[date]], *, at_opening: bool = False) -> Cell:
    found = next((c for c in day.cells if c.unit == unit), None)
    state = found.state if found else "ferme"
    checked = state in ("reservee", "liste_attente")
    enabled = bool(found) and day.open and not day.past and bool(
        found.cancellable if checked else
        found.bookable or (at_opening and found.bookable_at_opening))
    reason = None
    if not day.open:
        state = "ferme"
    if not enabled:
        if not day.open:
            reason = day.closed_reason or t("booking.reason.closed")
        else:
            reason = (found.reason if found else None) or t(
                "booking.reason.past" if day.past else "booking.reason.locked")
            if day.past and state == "libre":
                state = "passe"
        days = reasons.setdefault(reason, [])
        if day.day not in days:
            days.append(day.day)
    if state == "liste_attente" and found and found.position:
        status = t("booking.state.waiting_position", position=found.position)
    else:
        status = t(f"booking.state.{state}" if state in STATES else "booking.state.libre")
    return Cell(id=f"case-{day.day.isoformat()}-{unit}", value=cell_value(day.day, unit),
                state=state if state in STATES else "libre", checked=checked, enabled=enabled,
                label=t("booking.cell.label", unit=unit_label, day=t.day(day.day)),
                status=status, position=found.position if found else None, reason=reason,
                initial=checked)


# --- The opening rush (docs/opening-rush.md) --------------------------------------------------

@dataclass
class Rush:
    """A scheduled opening of bookings: from well before it until the rush window after it,
    the grid's « réserver » choices go as one ticket of booking's queue."""

    opens_at: datetime
    until: datetime  # the end of the rush window
    before: bool  # not open yet: choices may be prepared, sending is refused by booking
    countdown: str  # « dans 2 h 05 min », computed here (no JavaScript)
    window_minutes: int  # the rush window, said on the page

    @property
    def window_hours(self) -> int | None:
        """Whole hours, else None (the page says minutes)."""
        return self.window_minutes // 60 if self.window_minutes >= 60 and \
            self.window_minutes % 60 == 0 else None


def rush_of(request: Request, calendar: CalendarMonth, now: datetime | None = None
            ) -> Rush | None:
    opens_at = calendar.bookings_open_at
    if opens_at is None:
        return None
    if opens_at.tzinfo is None:
        opens_at = opens_at.replace(tzinfo=UTC)
    minutes = max(0, int(request.app.state.settings.booking_rush_minutes))
    now = now or datetime.now(UTC)
    until = opens_at + timedelta(minutes=minutes)
    if now >= until:
        return None
    return Rush(opens_at, until, now < opens_at,
                countdown(translator(request), opens_at, now), minutes)


def _rush_closes_direct(request: Request, calendar: CalendarMonth, errors: FormErrors) -> bool:
    """During a booking opening, the typical week and the change of group would book places
    directly, ahead of the families waiting in the queue: refused, with when they come back."""
    rush = rush_of(request, calendar)
    if rush is None:
        return False
    t = translator(request)
    errors.top(t("bookingqueue.direct_closed", until=t.datetime(rush.until)))
    return True


def _key(value: Any) -> str:
    """The form's idempotency key when well-formed (booking's `IdempotencyKey`), else a new
    one: a resubmission of the same form always carries the same key."""
    if isinstance(value, str) and 8 <= len(value) <= 64 and KEY.match(value):
        return value
    return uuid.uuid4().hex


def _if_some_full(value: Any) -> str:
    return value if value in IF_SOME_FULL else IF_SOME_FULL[0]


# --- Results ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    day: date
    what: str  # the unit's label, or the direction
    kind: str  # reservee, liste_attente, annulee, refusee
    text: str  # what the page says
    detail: str  # booking's own sentence (French)
    # Shown for a refusal (the rule), and where the words above do not say it all.
    show_detail: bool = False


@dataclass
class Outcomes:
    title: str
    items: list[Outcome]
    # A long list (a typical week) is folded under its summary.
    collapsed: bool = False

    @property
    def summary_kind(self) -> str:
        """`booking.results.summary.<kind>`: group assignments count other things."""
        return "assigned" if any(i.kind == "affectee" for i in self.items) else "changes"

    def count(self, kind: str) -> int:
        return sum(1 for item in self.items if item.kind == kind)


def reservation_outcomes(results: list[ReservationResult], labels: dict[str, str],
                         t: Translator, title: str, *, assignment: bool = False) -> Outcomes:
    """One line per result; for « Affecter les Groupes », booking's sentence says the group."""
    items = []
    for r in sorted(results, key=lambda r: (r.day, r.unit)):
        if not r.ok:
            kind, text = "refusee", t("booking.result.refused")
        elif assignment:
            kind, text = "affectee", t("booking.result.assigned")
        elif r.status == "liste_attente":
            kind = "liste_attente"
            text = (t("booking.result.waiting", position=r.position) if r.position
                    else t("booking.state.liste_attente"))
        elif r.status == "annulee" or r.action == "annuler":
            kind, text = "annulee", t("booking.result.cancelled")
        else:
            kind, text = "reservee", t("booking.result.booked")
        items.append(Outcome(r.day, labels.get(r.unit, r.unit), kind, text, r.detail,
                             show_detail=not r.ok or assignment))
    return Outcomes(title, items)


def shuttle_outcomes(results: list[ShuttleResult], t: Translator) -> Outcomes:
    items = [Outcome(r.day, t(f"booking.direction.{r.direction}"),
                     "reservee" if r.ok else "refusee",
                     t("booking.shuttle.result.ok" if r.ok else "booking.result.refused"),
                     r.detail, show_detail=not r.ok)
             for r in sorted(results, key=lambda r: (r.day, r.direction))]
    return Outcomes(t("booking.shuttle.results"), items)


# --- Loading -----------------------------------------------------------------------------------

def checked_month(value: str | None) -> str | None:
    return value if value and MONTH.match(value) else None


async def _registration(request: Request, session: Session, registration_id: str
                        ) -> Registration:
    return await load_registration(request, session, registration_id)


async def _calendar(request: Request, session: Session, registration: Registration,
                    month: str | None) -> CalendarMonth:
    try:
        with page_errors(request, keep=(409,)):
            return await booking_of(request).calendar(session.family_id, str(registration.id),
                                                      session.access_token, month)
    except UpstreamProblem as problem:
        raise NotBookable(registration, problem.detail) from None


def _not_validated(request: Request, registration: Registration, section: str) -> HTMLResponse:
    return registration_page(request, registration, section, template="booking.html",
                             calendar=None, status_code=200)


def _page(request: Request, registration: Registration, section: str,
          calendar: CalendarMonth | None, *, status_code: int = 200,
          errors: FormErrors | None = None, chosen: Iterable[str] | None = None,
          add_only: bool = False, queue: dict[str, Any] | None = None,
          **context: Any) -> HTMLResponse:
    """The page; `chosen` checks the family's choices again, `queue` (the form's key and
    « si complet » choice) is the opening's form state when a choice came back."""
    t = translator(request)
    context.setdefault("outcomes", None)
    context.setdefault("notice_key", None)
    rush = rush_of(request, calendar) if calendar and section == "reservations" else None
    grid = build_grid(calendar, t, rush=rush, chosen=chosen, add_only=add_only) \
        if calendar else None
    context["rush"] = rush
    context["queue"] = {"cle": _key((queue or {}).get("cle")),
                        "si_complet": _if_some_full((queue or {}).get("si_complet")),
                        "choices": IF_SOME_FULL, "refresh": None,
                        **{k: v for k, v in (queue or {}).items()
                           if k not in ("cle", "si_complet")}}
    month_start = date.fromisoformat(calendar.month + "-01") if calendar else None
    return registration_page(
        request, registration, section, template="booking.html", calendar=calendar, grid=grid,
        month_start=month_start, month_date=_month_date, errors=errors or FormErrors(),
        kinds=KINDS, status_code=status_code, **context)


def _month_date(month: str) -> date:
    return date.fromisoformat(month + "-01")


def _labels(calendar: CalendarMonth | None) -> dict[str, str]:
    return {u.code: u.label for u in calendar.units} if calendar else {}


def _problem(errors: FormErrors, problem: UpstreamProblem, t: Translator, fallback: str) -> None:
    if problem.errors:
        for _, message in problem.errors:
            errors.top(message, UPSTREAM_LANGUAGE)
    elif problem.detail:
        errors.top(problem.detail, UPSTREAM_LANGUAGE)
    else:
        errors.top(t(fallback))


def _group_id(calendar: CalendarMonth, value: str | None) -> uuid.UUID | None:
    """A group of the period chosen in a form; None for the default (or anything else)."""
    for choice in calendar.groups:
        if value == str(choice.group_id):
            return choice.group_id if choice.group_id != calendar.group_id else None
    return None


# --- « Mes réservations » ------------------------------------------------------------------

RESERVATIONS = BASE + "/reservations"


@router.get(RESERVATIONS)
async def reservations(request: Request, registration_id: str, mois: str | None = None,
                       session: Session = Depends(parent_session)) -> HTMLResponse:
    registration = await _registration(request, session, registration_id)
    if not registration.validated:
        return _not_validated(request, registration, "reservations")
    calendar = await _calendar(request, session, registration, checked_month(mois))
    # Back from an overloaded opening (the page reloaded itself): the choices and the key.
    query = request.query_params
    chosen = query.getlist("choix") if "cle" in query else None
    notice = "bookingqueue.notice.kept" if chosen is not None else None
    return _page(request, registration, "reservations", calendar, chosen=chosen, add_only=True,
                 notice_key=notice, queue={"cle": query.get("cle"),
                                           "si_complet": query.get("si_complet")})


def diff(checked: Iterable[str], initial: Iterable[str]) -> list[tuple[date, str, str]]:
    """(day, unit, action) of every cell that changed; malformed values are ignored."""
    now, before = set(_cells(checked)), set(_cells(initial))
    changes = [(d, u, "reserver") for d, u in now - before]
    changes += [(d, u, "annuler") for d, u in before - now]
    return sorted(changes)


def _cells(values: Iterable[str]) -> Iterable[tuple[date, str]]:
    for value in values:
        if not isinstance(value, str):
            continue
        day, _, unit = value.partition("|")
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            continue
        if UNIT.match(unit):
            yield parsed, unit


async def _posted(request: Request, session: Session, registration_id: str, section: str
                  ) -> tuple[Any, str | None, Registration] | HTMLResponse:
    """A posted booking form: the form, its month and the registration — or, for a
    registration not validated (yet or any more), the page that says so."""
    form = await request.form()
    month = checked_month(str(form.get("mois") or ""))
    registration = await _registration(request, session, registration_id)
    if not registration.validated:
        return _not_validated(request, registration, section)
    return form, month, registration


@router.post(RESERVATIONS)
async def change_reservations(request: Request, registration_id: str,
                              session: Session = Depends(parent_session)) -> Response:
    t = translator(request)
    posted = await _posted(request, session, registration_id, "reservations")
    if isinstance(posted, HTMLResponse):
        return posted
    form, month, registration = posted
    changes = diff(form.getlist("cases"), form.getlist("initial"))
    errors, outcomes, notice, status = FormErrors(), None, None, 200
    if not changes:
        notice = "booking.notice.nothing"
    elif len(changes) > MAX_CHANGES:
        errors.top(t("booking.error.too_many", max=t.number(MAX_CHANGES)))
        status = 422
    else:
        calendar = await _calendar(request, session, registration, month)
        if rush_of(request, calendar) is not None and any(a == "reserver" for *_, a in changes):
            # A booking opening: the new days go through booking's queue, in arrival order.
            return await _send_ticket(request, session, registration, calendar, form, changes)
        group = _group_id(calendar, str(form.get("groupe") or ""))
        body = ReservationChangesIn(changes=[
            ReservationChange(day=d, unit=u, action=a,
                              group_id=group if a == "reserver" else None)
            for d, u, a in changes])
        try:
            with page_errors(request, keep=ANY_PROBLEM):
                results = await booking_of(request).change(
                    session.family_id, str(registration.id), session.access_token, body)
            outcomes = reservation_outcomes(results, _labels(calendar), t,
                                            t("booking.results.title"))
        except UpstreamProblem as problem:
            status = problem.status
            _problem(errors, problem, t, "booking.error.refused")
        except UpstreamUnavailable:
            errors.top(t("error.booking_down"))
            status = 503
    # The grid as it is now (booking down: the French 503 page).
    calendar = await _calendar(request, session, registration, month)
    return _page(request, registration, "reservations", calendar, outcomes=outcomes,
                 notice_key=notice, errors=errors, status_code=status)


async def _send_ticket(request: Request, session: Session, registration: Registration,
                       calendar: CalendarMonth, form: Any,
                       changes: list[tuple[date, str, str]]) -> Response:
    """The grid's « réserver » choices as ONE ticket of booking's queue (the form's key: a
    double click, a refresh or a resubmission gets the same ticket), then its page (303).
    Cancellations of the same form free places: they stay direct, once, after a new ticket.
    Refused (too early…) or overloaded: the grid again, the family's choices and key kept."""
    t = translator(request)
    client = booking_of(request)
    chosen = [v for v in form.getlist("cases") if isinstance(v, str)]
    queue = {"cle": _key(form.get("cle")), "si_complet": _if_some_full(form.get("si_complet"))}
    asked = [(d, u) for d, u, a in changes if a == "reserver"]
    cancels = [(d, u) for d, u, a in changes if a == "annuler"]
    errors = FormErrors()

    def again(status: int, **extra: Any) -> HTMLResponse:
        return _page(request, registration, "reservations", calendar, chosen=chosen,
                     errors=errors, status_code=status, queue={**queue, **extra})

    if len(asked) > MAX_TICKET_DAYS:
        errors.top(t("booking.error.too_many", max=t.number(MAX_TICKET_DAYS)))
        return again(422)
    body = BookingTicketRequest(
        registration_id=registration.id, if_some_full=queue["si_complet"],
        days=[BookingTicketDay(date=d, unit=u) for d, u in asked])
    response = None
    try:
        response = await client.submit_ticket(session.family_id, session.access_token,
                                              queue["cle"], body)
        if response.status_code in (200, 202):
            ticket = Ticket.model_validate(response.json())
        elif 400 <= response.status_code < 500 and response.status_code != 429:
            with page_errors(request, keep=ANY_PROBLEM):
                raise problem_of(response)
            raise AssertionError  # pragma: no cover — page_errors raised
        else:
            raise UpstreamUnavailable(client.down)
    except UpstreamProblem as problem:
        # Too early, not bookable…: booking's French sentence, the choices kept.
        _problem(errors, problem, t, "booking.error.refused")
        return again(problem.status)
    except (UpstreamUnavailable, ValidationError, ValueError):
        # Overloaded or unreachable: nothing was taken. The page reloads itself to the grid
        # with the same choices and key (sending it again can never take two places).
        seconds = retry_seconds(response.headers.get("retry-after") if response is not None
                                else None)
        errors.top(t("bookingqueue.error.busy", seconds=seconds))
        query = urlencode([("mois", calendar.month), ("cle", queue["cle"]),
                           ("si_complet", queue["si_complet"])]
                          + [("choix", v) for v in chosen])
        return again(503, refresh=seconds,
                     refresh_url=f"{RESERVATIONS.format(registration_id=registration.id)}"
                                 f"?{query}")
    done = refused = 0
    if response.status_code == 202 and cancels:
        # A repeat (200) of the same form: its cancellations were made the first time.
        try:
            with page_errors(request, keep=ANY_PROBLEM):
                results = await client.change(
                    session.family_id, str(registration.id), session.access_token,
                    ReservationChangesIn(changes=[ReservationChange(day=d, unit=u,
                                                                    action="annuler")
                                                  for d, u in cancels]))
            done = sum(1 for r in results if r.ok)
            refused = len(results) - done
        except (UpstreamProblem, UpstreamUnavailable):
            refused = len(cancels)
    return RedirectResponse(ticket_url(ticket.id, registration.id, calendar.month, done,
                                       refused), status_code=303)


# --- « Affecter les Groupes » -------------------------------------------------------------

GROUPS = RESERVATIONS + "/groupes"


def booked_days(calendar: CalendarMonth, *, waiting: bool = True) -> list[date]:
    """The month's days still to come with a reservation of this child (or, with `waiting`,
    a request on the waiting list)."""
    states = ("reservee", "liste_attente") if waiting else ("reservee",)
    return [d.day for d in calendar.days
            if not d.past and any(c.state in states for c in d.cells)]


@router.get(GROUPS)
async def groups_form(request: Request, registration_id: str, mois: str | None = None,
                      session: Session = Depends(parent_session)) -> HTMLResponse:
    registration = await _registration(request, session, registration_id)
    if not registration.validated:
        return _not_validated(request, registration, "reservations")
    calendar = await _calendar(request, session, registration, checked_month(mois))
    return _page(request, registration, "groupes", calendar, values={"jours": [], "groupe": ""},
                 booked=booked_days(calendar))


@router.post(GROUPS)
async def assign_groups(request: Request, registration_id: str,
                        session: Session = Depends(parent_session)) -> HTMLResponse:
    t = translator(request)
    posted = await _posted(request, session, registration_id, "reservations")
    if isinstance(posted, HTMLResponse):
        return posted
    form, month, registration = posted
    calendar = await _calendar(request, session, registration, month)
    booked = booked_days(calendar)
    chosen = sorted({d for d in (_date(v) for v in form.getlist("jours")) if d in booked})
    group = str(form.get("groupe") or "")
    values = {"jours": [d.isoformat() for d in chosen], "groupe": group}
    errors = FormErrors()
    if _rush_closes_direct(request, calendar, errors):
        return _page(request, registration, "groupes", calendar, values=values, errors=errors,
                     booked=booked, status_code=409)
    if not chosen:
        errors.add("jours", t("booking.groups.error.days"))
    group_id = next((g.group_id for g in calendar.groups if str(g.group_id) == group), None)
    if group_id is None:
        errors.add("groupe", t("booking.groups.error.group"))
    if errors:
        return _page(request, registration, "groupes", calendar, values=values, errors=errors,
                     booked=booked, status_code=422)
    assert group_id is not None
    try:
        with page_errors(request, keep=ANY_PROBLEM):
            results = await booking_of(request).assign_groups(
                session.family_id, str(registration.id), session.access_token,
                GroupAssignmentIn(group_id=group_id, days=chosen[:MAX_DAYS]))
    except UpstreamProblem as problem:
        _problem(errors, problem, t, "booking.error.refused")
        return _page(request, registration, "groupes", calendar, values=values, errors=errors,
                     booked=booked, status_code=problem.status)
    except UpstreamUnavailable:
        errors.top(t("error.booking_down"))
        return _page(request, registration, "groupes", calendar, values=values, errors=errors,
                     booked=booked, status_code=503)
    label = next(g.label for g in calendar.groups if g.group_id == group_id)
    outcomes = reservation_outcomes(results, _labels(calendar), t,
                                    t("booking.groups.results", group=label), assignment=True)
    calendar = await _calendar(request, session, registration, month)
    return _page(request, registration, "reservations", calendar, outcomes=outcomes)


def _date(value: Any) -> date | None:
    return parse_date(value) if isinstance(value, str) else None


# --- « Réservation selon une semaine type » -----------------------------------------------

TYPICAL_WEEK = RESERVATIONS + "/semaine-type"
WEEKDAYS = range(1, 8)


def week_days(calendar: CalendarMonth) -> list[int]:
    """The weekdays to offer: those open in the month shown (Monday–Friday if none)."""
    open_days = sorted({d.day.isoweekday() for d in calendar.days if d.open})
    return open_days or [1, 2, 3, 4, 5]


def week_defaults(calendar: CalendarMonth) -> dict[str, Any]:
    start = max(calendar.start_date, today())
    start = min(start, calendar.end_date)
    days = {str(d.weekday): list(d.units) for d in calendar.typical_week}
    return {"debut": start.isoformat(), "fin": calendar.end_date.isoformat(), "jours": days,
            "groupe": str(calendar.group_id)}


@router.get(TYPICAL_WEEK)
async def typical_week_form(request: Request, registration_id: str, mois: str | None = None,
                            session: Session = Depends(parent_session)) -> HTMLResponse:
    registration = await _registration(request, session, registration_id)
    if not registration.validated:
        return _not_validated(request, registration, "reservations")
    calendar = await _calendar(request, session, registration, checked_month(mois))
    return _page(request, registration, "semaine_type", calendar,
                 values=week_defaults(calendar), weekdays=week_days(calendar))


@router.post(TYPICAL_WEEK)
async def apply_typical_week(request: Request, registration_id: str,
                             session: Session = Depends(parent_session)) -> HTMLResponse:
    t = translator(request)
    posted = await _posted(request, session, registration_id, "reservations")
    if isinstance(posted, HTMLResponse):
        return posted
    form, month, registration = posted
    calendar = await _calendar(request, session, registration, month)
    units = {u.code for u in calendar.units}
    offered = week_days(calendar)
    days = {str(w): [u for u in form.getlist(f"jour-{w}") if u in units] for w in offered}
    values = {"debut": str(form.get("debut") or "").strip(),
              "fin": str(form.get("fin") or "").strip(), "jours": days,
              "groupe": str(form.get("groupe") or "")}
    errors = FormErrors()
    if _rush_closes_direct(request, calendar, errors):
        return _page(request, registration, "semaine_type", calendar, values=values,
                     weekdays=offered, errors=errors, status_code=409)
    start, end = parse_date(values["debut"]), parse_date(values["fin"])
    if start is None:
        errors.add("debut", t("booking.week.error.date"))
    if end is None:
        errors.add("fin", t("booking.week.error.date"))
    if start and end and end < start:
        errors.add("fin", t("booking.week.error.order"))
    if not any(days.values()):
        errors.add(f"jour-{offered[0]}", t("booking.week.error.units"))
    if errors:
        return _page(request, registration, "semaine_type", calendar, values=values,
                     weekdays=offered, errors=errors, status_code=422)
    assert start and end
    body = TypicalWeekIn(start=start, end=end, group_id=_group_id(calendar, values["groupe"]),
                         days=[WeekdayUnitsIn(weekday=int(w), units=u)
                               for w, u in days.items() if u])
    try:
        with page_errors(request, keep=ANY_PROBLEM):
            results = await booking_of(request).typical_week(
                session.family_id, str(registration.id), session.access_token, body)
    except UpstreamProblem as problem:
        _problem(errors, problem, t, "booking.error.refused")
        return _page(request, registration, "semaine_type", calendar, values=values,
                     weekdays=offered, errors=errors, status_code=problem.status)
    except UpstreamUnavailable:
        errors.top(t("error.booking_down"))
        return _page(request, registration, "semaine_type", calendar, values=values,
                     weekdays=offered, errors=errors, status_code=503)
    outcomes = reservation_outcomes(
        results, _labels(calendar), t,
        t("booking.week.results", start=t.date(start), end=t.date(end)))
    outcomes.collapsed = True
    calendar = await _calendar(request, session, registration, start.strftime("%Y-%m"))
    return _page(request, registration, "reservations", calendar, outcomes=outcomes)


# --- « Mes navettes » -------------------------------------------------------------------------

SHUTTLES = BASE + "/navettes"


async def _shuttle_page(request: Request, session: Session, registration: Registration,
                        month: str | None, *, values: dict[str, Any] | None = None,
                        outcomes: Outcomes | None = None, errors: FormErrors | None = None,
                        status_code: int = 200) -> HTMLResponse:
    booking = booking_of(request)
    calendar = await _calendar(request, session, registration, month)
    with page_errors(request):
        lines = await booking.shuttle_lines(session.family_id, str(registration.id),
                                            session.access_token)
        mine = await booking.shuttles(session.family_id, str(registration.id),
                                      session.access_token)
    return _page(request, registration, "navettes", calendar, lines=lines,
                 shuttles=sorted(mine, key=lambda s: (s.day, s.direction)),
                 booked=booked_days(calendar, waiting=False), outcomes=outcomes, errors=errors,
                 values=values or {"arret": "", "sens": [], "jours": [], "action": "reserver"},
                 status_code=status_code)


@router.get(SHUTTLES)
async def shuttles(request: Request, registration_id: str, mois: str | None = None,
                   session: Session = Depends(parent_session)) -> HTMLResponse:
    registration = await _registration(request, session, registration_id)
    if not registration.validated:
        return _not_validated(request, registration, "navettes")
    return await _shuttle_page(request, session, registration, checked_month(mois))


@router.post(SHUTTLES)
async def book_shuttles(request: Request, registration_id: str,
                        session: Session = Depends(parent_session)) -> HTMLResponse:
    t = translator(request)
    posted = await _posted(request, session, registration_id, "navettes")
    if isinstance(posted, HTMLResponse):
        return posted
    form, month, registration = posted
    values = {"arret": str(form.get("arret") or ""),
              "sens": [d for d in DIRECTIONS if d in form.getlist("sens")],
              "jours": sorted({d.isoformat() for d in (_date(v) for v in form.getlist("jours"))
                               if d}),
              "action": "annuler" if form.get("action") == "annuler" else "reserver"}
    errors = FormErrors()
    try:
        stop_id = uuid.UUID(values["arret"])
    except ValueError:
        stop_id = None
        errors.add("arret", t("booking.shuttle.error.stop"))
    if not values["sens"]:
        errors.add("sens", t("booking.shuttle.error.direction"))
    if not values["jours"]:
        errors.add("jours", t("booking.shuttle.error.days"))
    elif len(values["jours"]) > MAX_DAYS:
        errors.add("jours", t("booking.error.too_many", max=t.number(MAX_DAYS)))
    if errors:
        return await _shuttle_page(request, session, registration, month, values=values,
                                   errors=errors, status_code=422)
    assert stop_id is not None
    body = ShuttleBookingIn(stop_id=stop_id, directions=values["sens"], action=values["action"],
                            days=[date.fromisoformat(d) for d in values["jours"]])
    try:
        with page_errors(request, keep=ANY_PROBLEM):
            results = await booking_of(request).book_shuttles(
                session.family_id, str(registration.id), session.access_token, body)
    except UpstreamProblem as problem:
        _problem(errors, problem, t, "booking.error.refused")
        return await _shuttle_page(request, session, registration, month, values=values,
                                   errors=errors, status_code=problem.status)
    except UpstreamUnavailable:
        errors.top(t("error.booking_down"))
        return await _shuttle_page(request, session, registration, month, values=values,
                                   errors=errors, status_code=503)
    return await _shuttle_page(request, session, registration, month,
                               outcomes=shuttle_outcomes(results, t))


# --- The calendar (ICS): download, and a private subscription URL ---------------------------

def _ics(upstream: Any, filename: str, cache: str) -> StreamingResponse:
    return StreamingResponse(
        upstream.aiter_bytes(), media_type=ICS, background=BackgroundTask(upstream.aclose),
        headers={"content-disposition": f'attachment; filename="{filename}"',
                 "cache-control": cache, "x-robots-tag": "noindex"})


@router.get(BASE + "/calendrier.ics")
async def calendar_download(request: Request, registration_id: str,
                            session: Session = Depends(parent_session)) -> Response:
    """The child's booked days (booking's iCalendar), streamed with the parent's token."""
    registration = await _registration(request, session, registration_id)
    with page_errors(request):
        upstream = await booking_of(request).open_calendar(
            child_ics_path(session.family_id, str(registration.child_id)), session.access_token)
    ascii_name = unicodedata.normalize("NFKD", registration.child_first_name).encode(
        "ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9-]+", "-", ascii_name).strip("-") or "enfant"
    return _ics(upstream, f"reservations-{name.lower()}.ics", "private, no-store")


@router.post(BASE + "/abonnement")
async def subscribe(request: Request, registration_id: str,
                    session: Session = Depends(parent_session)) -> HTMLResponse:
    t = translator(request)
    registration = await _registration(request, session, registration_id)
    errors, url, status = FormErrors(), None, 200
    try:
        with page_errors(request, keep=ANY_PROBLEM):
            feed = await booking_of(request).new_feed(
                session.family_id, str(registration.child_id), session.access_token)
        url = public_feed_url(request, feed.url)
        if url is None:
            raise UpstreamUnavailable(t("error.booking_down"))
    except UpstreamProblem as problem:
        _problem(errors, problem, t, "booking.error.refused")
        status = problem.status
    except UpstreamUnavailable:
        errors.top(t("error.booking_down"))
        status = 503
    return registration_page(request, registration, "abonnement", template="booking.html",
                             calendar=None, feed_url=url, errors=errors, status_code=status)


public_router = APIRouter()


@public_router.get("/calendrier/{name}")
async def calendar_feed(request: Request, name: str) -> Response:
    """A phone's calendar subscription: no login (the secret is the token), booking's answer
    streamed; an unknown or revoked token is a 404."""
    token = name.removesuffix(".ics")
    if not name.endswith(".ics") or not FEED_TOKEN.match(token):
        raise HTTPException(404)
    try:
        upstream = await booking_of(request).open_calendar(feed_path(token), None)
    except UpstreamProblem as problem:
        raise HTTPException(404 if problem.status in (401, 403, 404, 410) else
                            problem.status) from None
    return _ics(upstream, "reservations.ics", "private, max-age=300")
