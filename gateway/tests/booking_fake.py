"""A fake booking service (as `services/booking/API.md` describes it) for Léa's validated
autumn registration (`enrolment_fake.R_VALID`, « AUTOMNE - Automne {YEAR} », 20/10 → 03/11).

Installed on a `FakeServices` with `FakeBooking(fake)`: it keeps its reservations and shuttles in
memory, answers 404 for another family's path or an unknown registration, 409 for a registration
not validated, and records what it is sent. Its clock is `today` (the service judges past days
and deadlines, never the gateway): by default 22/10, so 20 and 21/10 are past, 23/10 is beyond
the booking deadline (« la veille à 15 h »), 24–25/10 a week-end, 01/11 a public holiday.

Every answer is built from the service's own models (`marelle_contracts.http.booking`) and
dumped as the service would send it; `test_contract_fakes.py` checks them against the real
OpenAPI document.
"""

from __future__ import annotations

import json
import re
import uuid
from calendar import monthrange
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import httpx

from marelle_contracts.dashboard import RequestItem, RequestItems
from marelle_contracts.http import booking as B
from marelle_contracts.http import queue as Q

from gateway.tests.enrolment_fake import (
    AUTUMN_PERIOD,
    FAMILY_ID,
    GROUP_68,
    GROUP_911,
    LEA,
    R_VALID,
    YEAR,
    answer,
    problem,
    registrations,
)

START, END = date(YEAR, 10, 20), date(YEAR, 11, 3)
UNITS = [B.UnitInfo(code="matin", label="Accueil matin", kind="accueil"),
         B.UnitInfo(code="soir", label="Accueil soir", kind="accueil"),
         B.UnitInfo(code="repas", label="Repas", kind="supplement"),
         B.UnitInfo(code="journee", label="Journée complète", kind="journee",
                    implies=["repas"])]
LABELS = {u.code: u.label for u in UNITS}
GROUPS = {GROUP_68: "6-8 ans Rémond", GROUP_911: "9-11 ans"}
HOLIDAY = date(YEAR, 11, 1)
# The period's opening days (Monday–Friday but the public holiday), whatever the year.
OPEN = [START + timedelta(days=i) for i in range((END - START).days + 1)
        if (START + timedelta(days=i)).isoweekday() <= 5
        and START + timedelta(days=i) != HOLIDAY]
TODAY = OPEN[1]  # the service's clock: OPEN[0] is past
TOO_LATE = OPEN[2]  # beyond the deadlines (« la veille à 15 h »)
FULL_DAY = OPEN[3]  # « journee » is full: a new request waits (position 2)
SHUTTLE_FULL = OPEN[4]  # booked, and no seat left in the shuttle
GROUP_FULL = OPEN[5]  # booked, and « 9-11 ans » full that day
WAITING = OPEN[6]  # « journee » on the waiting list (position 3)
MEMO = "Attention les inscriptions sont a la semaine:\nSem 1 : 20 et 21 octobre"
LINE = "90000000-0000-4000-8000-000000000001"
STOP_TOWN_HALL, STOP_SCHOOL = ("91000000-0000-4000-8000-000000000001",
                               "91000000-0000-4000-8000-000000000002")
FEED_TOKEN = "jeton-prive-du-calendrier-0123456789"
ICS_BODY = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Marelle//booking//FR\r\n"
            b"BEGIN:VEVENT\r\nUID:test@marelle\r\nDTSTART;VALUE=DATE:20261023\r\n"
            b"SUMMARY:L\xc3\xa9a - Journ\xc3\xa9e compl\xc3\xa8te\r\nEND:VEVENT\r\n"
            b"END:VCALENDAR\r\n")
DEADLINE = "Délai de réservation dépassé (la veille à 15 h)."
CANCEL_DEADLINE = "Délai d'annulation dépassé (la veille à 15 h)."


def weeks() -> list[B.WeekInfo]:
    return [B.WeekInfo(number=1, label=f"Sem 1 : 20 et 21 octobre {YEAR}",
                       days=[date(YEAR, 10, 20), date(YEAR, 10, 21)]),
            B.WeekInfo(number=2, label="Sem 2 : du lundi au vendredi",
                       days=[d for d in OPEN if date(YEAR, 10, 21) < d < date(YEAR, 11, 1)])]


class FakeBooking:
    """booking's family endpoints over in-memory data; `fake.serve("booking", self)`."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.today = TODAY
        self.may_modify = True
        # (day, unit) → {"state": "reservee" | "liste_attente", "position", "group_id", "id"}
        self.reservations: dict[tuple[date, str], dict[str, Any]] = {}
        self._book(OPEN[0], "journee")  # past, booked
        self._book(TOO_LATE, "journee")  # beyond the cancellation deadline
        self._book(SHUTTLE_FULL, "journee")
        self._book(SHUTTLE_FULL, "repas")
        self._book(GROUP_FULL, "matin")
        self.reservations[(WAITING, "journee")] = {
            "state": "liste_attente", "position": 3, "group_id": GROUP_68, "id": _id()}
        self.shuttles: list[B.ShuttleBooking] = [B.ShuttleBooking(
            shuttle_booking_id=_id(), child_id=LEA, line_name="Ligne 1", stop_name="Mairie",
            direction="aller", day=GROUP_FULL, scheduled_time=time(8, 5))]
        self.feed_token = FEED_TOKEN
        # What the gateway sent, by route name (« reservations », « typical-week »…).
        self.posted: dict[str, list[Any]] = {}
        # Set to an `httpx.Response` to answer the next POST with it.
        self.answer_next: httpx.Response | None = None
        # The opening queue: tickets by id, by Idempotency-Key, and those not decided yet.
        self.tickets: dict[str, dict[str, Any]] = {}
        self.tickets_by_key: dict[str, str] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.ticket_keys: list[str] = []  # the Idempotency-Key of every POST received
        fake.serve("booking", self)

    def _book(self, day: date, unit: str, group: str = GROUP_68) -> None:
        self.reservations[(day, unit)] = {"state": "reservee", "position": None,
                                          "group_id": group, "id": _id()}

    # --- routing --------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        feed = re.fullmatch(r"/calendar-feeds/([^/]+)\.ics", path)
        if feed and request.method == "GET":
            if feed[1] != self.feed_token:
                return problem(404, "Ce calendrier est introuvable.")
            return httpx.Response(200, content=ICS_BODY,
                                  headers={"content-type": "text/calendar; charset=utf-8"})
        match = re.fullmatch(r"/families/([^/]+)(/.*)", path)
        if not match:
            return None
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return problem(401, "Authentification requise.")
        if match[1] != FAMILY_ID:
            return problem(404, "Ce foyer est introuvable.")
        if request.method == "POST" and self.answer_next is not None:
            answer_next, self.answer_next = self.answer_next, None
            self._record(match[2].rsplit("/", 1)[-1], request)
            return answer_next
        return self.route(request, match[2].strip("/").split("/"))

    def _record(self, name: str, request: httpx.Request) -> Any:
        body = json.loads(request.content) if request.content else None
        self.posted.setdefault(name, []).append(body)
        return body

    def route(self, request: httpx.Request, parts: list[str]) -> httpx.Response | None:
        method = request.method
        if parts == ["waiting-days"] and method == "GET":
            return self.waiting_days()
        if parts == ["requests"] and method == "GET":
            return self.requests()
        if parts[0] == "tickets":
            return self.ticket_route(request, method, parts[1:])
        if len(parts) == 3 and parts[0] == "children" and parts[1] == LEA:
            if parts[2] == "reservations.ics" and method == "GET":
                return httpx.Response(200, content=ICS_BODY, headers={
                    "content-type": "text/calendar; charset=utf-8"})
            if parts[2] == "calendar-feed" and method == "POST":
                self.feed_token = "nouveau-" + uuid.uuid4().hex
                return httpx.Response(201, json=answer(B.CalendarFeed(
                    url=f"http://127.0.0.1:8103/calendar-feeds/{self.feed_token}.ics")))
        if parts[0] == "children":
            return problem(404, "Cet enfant est introuvable.")
        if len(parts) != 3 or parts[0] != "registrations":
            return None
        if parts[1] != R_VALID:
            known = registrations().get(parts[1])
            if known is None:
                return problem(404, "Cette inscription est introuvable.")
            return problem(409, "Les réservations ne sont possibles que sur une inscription "
                                "validée.")
        route = parts[2]
        if method == "GET" and route == "calendar":
            return self.calendar(request.url.params.get("month"))
        if method == "GET" and route == "shuttle-lines":
            return httpx.Response(200, json=answer(self.lines()))
        if method == "GET" and route == "shuttles":
            return httpx.Response(200, json=answer(B.ShuttleBookings(items=self.shuttles)))
        if method != "POST" or route not in ("reservations", "typical-week",
                                             "group-assignments", "shuttles"):
            return None
        body = self._record(route, request)
        if not self.may_modify:
            return problem(409, "La structure ne permet pas de modifier les réservations en "
                                "ligne pour cette période.")
        handler = {"reservations": self.change, "typical-week": self.typical_week,
                   "group-assignments": self.assign, "shuttles": self.book_shuttles}[route]
        return handler(body)

    # --- the opening queue: a ticket is queued when given, decided when next read ------------

    def ticket_route(self, request: httpx.Request, method: str, rest: list[str]
                     ) -> httpx.Response | None:
        if method == "POST" and not rest:
            key = request.headers.get("idempotency-key", "")
            if not 8 <= len(key) <= 64:
                return problem(422, "L'en-tête Idempotency-Key est requis.")
            body = self._record("tickets", request)
            self.ticket_keys.append(key)
            if key in self.tickets_by_key:
                return httpx.Response(200, json=self.tickets[self.tickets_by_key[key]])
            if body["registration_id"] != R_VALID:
                if body["registration_id"] not in registrations():
                    return problem(404, "Cette inscription est introuvable.")
                return problem(409, "Cette inscription n'est pas validée : les réservations "
                                    "ne sont possibles que sur une inscription validée.")
            for item in body["days"]:
                if item["unit"] not in LABELS:
                    return problem(422, "Ce créneau n'existe pas dans le calendrier de cette "
                                        f"période. (« {item['unit']} »)")
            ticket_id = _id()
            self.tickets_by_key[key] = ticket_id
            self.tickets[ticket_id] = answer(Q.Ticket(
                id=ticket_id, kind="reservation", resource_label=f"AUTOMNE — Automne {YEAR}",
                status="en_file", position=len(self.tickets) + 120, ahead=119,
                received_at=datetime.combine(self.today, time(6, 30), tzinfo=timezone.utc),
                if_some_full=body["if_some_full"]))
            self.pending[ticket_id] = body
            return httpx.Response(202, json=self.tickets[ticket_id])
        if method == "GET" and len(rest) == 1:
            found = self.tickets.get(rest[0])
            if found is None:
                return problem(404, "Ce ticket est introuvable.")
            answer_now = httpx.Response(200, json=found)
            if rest[0] in self.pending:  # decided by the next read
                self.tickets[rest[0]] = self._decide(found, self.pending.pop(rest[0]))
            return answer_now
        return None

    def _decide(self, ticket: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """« prendre le reste »: each day on its own; « tout ou rien »: a full day waitlists
        them all. Past or late days are refused with the rule."""
        days = [(date.fromisoformat(d["date"]), d["unit"]) for d in body["days"]]
        full = any(day == FULL_DAY and unit == "journee" for day, unit in days)
        outcomes = []
        for day, unit in days:
            label = f"Léa — {day:%d/%m}, {LABELS[unit].lower()}"
            what = f"{LABELS[unit].lower()} du {day:%d/%m/%Y}"
            status, detail, ok = "reservee", f"Réservé : {what}.", True
            if (day, unit) in self.reservations:
                status, ok = "refusee", False
                detail = "Cet enfant est déjà inscrit ce jour-là pour ce créneau."
            elif not self.within_deadline(day):
                status, ok = "refusee", False
                detail = ("Délai de réservation dépassé : réservable jusqu'à la veille à "
                          "15 h 00.")
            elif (day == FULL_DAY and unit == "journee"
                  or full and body["if_some_full"] == "tout_ou_rien"):
                status = "liste_attente"
                detail = f"Complet : {what} sur liste d'attente, position 2."
            reference = None
            if ok:
                reference = _id()
                self.reservations[(day, unit)] = {
                    "state": status, "position": 2 if status == "liste_attente" else None,
                    "group_id": GROUP_68, "id": reference}
            outcomes.append(Q.TicketOutcome(subject_id=LEA, label=label, ok=ok, status=status,
                                            reference_id=reference, detail=detail))
        return answer(Q.Ticket.model_validate({
            **ticket, "status": "traite", "ahead": 0, "outcomes": outcomes,
            "decided_at": datetime.combine(self.today, time(6, 31), tzinfo=timezone.utc)}))

    # --- the month grid ---------------------------------------------------------------------

    def is_open(self, day: date) -> tuple[bool, str | None]:
        if not START <= day <= END:
            return False, "Hors période"
        if day.isoweekday() > 5:
            return False, "Fermé le week-end"
        if day == HOLIDAY:
            return False, "Jour férié (Toussaint)"
        return True, None

    def within_deadline(self, day: date) -> bool:
        """Booked or cancelled until the open day before, at 15 h (the clock is a day)."""
        later = [d for d in OPEN if d > self.today]
        return bool(later) and day > later[0]

    def calendar(self, month: str | None) -> httpx.Response:
        months = [f"{YEAR}-10", f"{YEAR}-11"]
        month = month if month in months else months[0]
        if month is None or not re.fullmatch(r"\d{4}-\d{2}", month):
            month = months[0]
        year, number = map(int, month.split("-"))
        index = months.index(month)
        days = []
        for n in range(1, monthrange(year, number)[1] + 1):
            day = date(year, number, n)
            is_open, closed = self.is_open(day)
            past = day < self.today
            cells = [self.cell(day, u.code, past) for u in UNITS] if is_open else []
            days.append(B.CalendarDay(day=day, weekday_letter="LMMJVSD"[day.weekday()],
                                      open=is_open, closed_reason=closed, past=past,
                                      cells=cells))
        return httpx.Response(200, json=answer(B.CalendarMonth(
            registration_id=R_VALID, child_id=LEA, child_first_name="Léa",
            facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE",
            period_id=AUTUMN_PERIOD, period_label=f"Automne {YEAR}", start_date=START,
            end_date=END, group_id=GROUP_68, group_label=GROUPS[GROUP_68],
            groups=[B.GroupChoice(group_id=g, label=label) for g, label in GROUPS.items()],
            month=month, previous_month=months[index - 1] if index else None,
            next_month=months[index + 1] if index + 1 < len(months) else None, memo=MEMO,
            week_only=False, families_may_modify=self.may_modify, weeks=weeks(), units=UNITS,
            days=days, typical_week=[B.WeekdayUnitsOut(weekday=1, units=["journee"]),
                                     B.WeekdayUnitsOut(weekday=3, units=["matin", "repas"])])))

    def cell(self, day: date, unit: str, past: bool) -> B.DayCell:
        held = self.reservations.get((day, unit))
        state = held["state"] if held else (
            "complet" if (day, unit) == (FULL_DAY, "journee") else "libre")
        in_time = not past and self.within_deadline(day) and self.may_modify
        reason = None
        if past:
            reason = "Jour passé"
        elif not self.may_modify:
            reason = "Modification non autorisée par la structure"
        elif not in_time:
            reason = DEADLINE if not held else CANCEL_DEADLINE
        return B.DayCell(unit=unit, state=state, position=held["position"] if held else None,
                         group_id=held["group_id"] if held else None,
                         bookable=in_time and not held, cancellable=in_time and bool(held),
                         reason=reason)

    # --- changes ---------------------------------------------------------------------------

    def _one(self, day: date, unit: str, action: str, group: str | None
             ) -> B.ReservationResult:
        def refused(detail: str) -> B.ReservationResult:
            return B.ReservationResult(day=day, unit=unit, action=action, ok=False, detail=detail)

        is_open, closed = self.is_open(day)
        if unit not in LABELS:
            return refused("Prestation inconnue pour cette période.")
        if not is_open:
            return refused(f"Jour non ouvert : {closed}.")
        if day < self.today:
            return refused("Jour passé.")
        held = self.reservations.get((day, unit))
        if not self.within_deadline(day):
            return refused(DEADLINE if action == "reserver" else CANCEL_DEADLINE)
        if action == "annuler":
            if not held:
                return refused("Aucune réservation à annuler ce jour-là.")
            del self.reservations[(day, unit)]
            return B.ReservationResult(day=day, unit=unit, action=action, ok=True,
                                       status="annulee", detail="Réservation annulée.")
        if held:
            return refused("Déjà réservé ce jour-là.")
        if (day, unit) == (FULL_DAY, "journee"):
            self.reservations[(day, unit)] = {"state": "liste_attente", "position": 2,
                                              "group_id": group or GROUP_68, "id": _id()}
            return B.ReservationResult(day=day, unit=unit, action=action, ok=True,
                                       status="liste_attente", position=2,
                                       detail="Complet : en liste d'attente, position 2.")
        self._book(day, unit, group or GROUP_68)
        return B.ReservationResult(day=day, unit=unit, action=action, ok=True, status="reservee",
                                   detail="Réservé.")

    def change(self, body: Any) -> httpx.Response:
        changes = B.ReservationChangesIn.model_validate(body)
        results = [self._one(c.day, c.unit, c.action, str(c.group_id) if c.group_id else None)
                   for c in changes.changes]
        return httpx.Response(200, json=answer(B.ReservationResults(results=results)))

    def typical_week(self, body: Any) -> httpx.Response:
        week = B.TypicalWeekIn.model_validate(body)
        pattern = {d.weekday: d.units for d in week.days}
        results = []
        day = week.start
        while day <= week.end:
            if self.is_open(day)[0]:
                for unit in pattern.get(day.isoweekday(), []):
                    results.append(self._one(day, unit, "reserver",
                                             str(week.group_id) if week.group_id else None))
            day += timedelta(days=1)
        return httpx.Response(200, json=answer(B.ReservationResults(results=results)))

    def assign(self, body: Any) -> httpx.Response:
        assignment = B.GroupAssignmentIn.model_validate(body)
        group = str(assignment.group_id)
        results = []
        for day in assignment.days:
            held = [(k, v) for k, v in self.reservations.items() if k[0] == day]
            if not held:
                results.append(B.ReservationResult(day=day, unit="", action="affecter", ok=False,
                                                   detail="Aucune réservation ce jour-là."))
            for (d, unit), item in held:
                if group == GROUP_911 and d == GROUP_FULL:
                    results.append(B.ReservationResult(
                        day=d, unit=unit, action="affecter", ok=False,
                        detail="Le groupe 9-11 ans est complet ce jour-là."))
                    continue
                item["group_id"] = group
                results.append(B.ReservationResult(
                    day=d, unit=unit, action="affecter", ok=True, status=item["state"],
                    position=item["position"], detail=f"Groupe : {GROUPS[group]}."))
        return httpx.Response(200, json=answer(B.ReservationResults(results=results)))

    # --- waiting days, shuttles, dashboard ---------------------------------------------------

    def waiting_days(self) -> httpx.Response:
        items = [B.WaitingDay(reservation_id=v["id"], registration_id=R_VALID, child_id=LEA,
                              child_first_name="Léa", period_label=f"Automne {YEAR}",
                              group_label=GROUPS[v["group_id"]], day=day, unit=unit,
                              unit_label=LABELS[unit], position=v["position"])
                 for (day, unit), v in sorted(self.reservations.items())
                 if v["state"] == "liste_attente"]
        return httpx.Response(200, json=answer(B.WaitingDays(items=items)))

    def lines(self) -> B.ShuttleLines:
        return B.ShuttleLines(items=[B.ShuttleLine(
            line_id=LINE, period_id=AUTUMN_PERIOD, name="Ligne 1", seats=20, stops=[
                B.ShuttleStop(stop_id=STOP_TOWN_HALL, name="Mairie", morning_time=time(8, 5),
                              evening_time=time(17, 40)),
                B.ShuttleStop(stop_id=STOP_SCHOOL, name="École Jules Ferry",
                              morning_time=time(8, 20), evening_time=None)])])

    def book_shuttles(self, body: Any) -> httpx.Response:
        booking = B.ShuttleBookingIn.model_validate(body)
        stops = {s.stop_id: s for s in self.lines().items[0].stops}
        stop = stops.get(booking.stop_id)
        results = []
        for day in booking.days:
            for direction in booking.directions:
                booked = any(k[0] == day and v["state"] == "reservee"
                             for k, v in self.reservations.items())
                if stop is None:
                    ok, detail = False, "Arrêt inconnu."
                elif not booked:
                    ok, detail = False, "Votre enfant n'est pas réservé ce jour-là."
                elif day == SHUTTLE_FULL and booking.action == "reserver":
                    ok, detail = False, "Plus de place dans la navette ce jour-là (20 places)."
                else:
                    ok, detail = True, ("Navette réservée." if booking.action == "reserver"
                                        else "Navette annulée.")
                    if booking.action == "reserver":
                        self.shuttles.append(B.ShuttleBooking(
                            shuttle_booking_id=_id(), child_id=LEA, line_name="Ligne 1",
                            stop_name=stop.name, direction=direction, day=day,
                            scheduled_time=stop.morning_time if direction == "aller"
                            else stop.evening_time))
                results.append(B.ShuttleResult(day=day, direction=direction, ok=ok,
                                               detail=detail))
        return httpx.Response(200, json=answer(B.ShuttleResults(results=results)))

    def requests(self) -> httpx.Response:
        created = datetime(YEAR - 1, 9, 20, 8, 0, tzinfo=timezone.utc)
        return httpx.Response(200, json=answer(RequestItems(items=[
            RequestItem(kind="reservation", label="Réservation de Léa : Journée complète, "
                                                  f"{WAITING:%d/%m/%Y}",
                        status="en_attente", created_at=created),
            RequestItem(kind="reservation", label=f"Réservation de Léa : Repas, "
                                                  f"{SHUTTLE_FULL:%d/%m/%Y}",
                        status="acceptee", created_at=created - timedelta(days=1),
                        decided_at=created - timedelta(days=1))])))


def _id() -> str:
    return str(uuid.uuid4())
