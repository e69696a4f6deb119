"""booking's HTTP bodies (`services/booking/API.md`): calendars and their options (staff), the
month grid, reservations, typical weeks, group assignments, day waiting lists, shuttles, roll
calls, occupancy, calendar feeds (ICS).

Words of the guide (« Mes réservations », « Liste d'attente », « Mes navettes ») are the
portal's; codes here are English, values of enumerations French (they travel to the pages).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from marelle_contracts.booking import AttendanceStatus, ReservationStatus, ShuttleDirection
from marelle_contracts.dashboard import RequestItem, RequestItems
from marelle_contracts.http._base import Answer, Created, FreeText, SingleLine, Strict
from marelle_contracts.http.queue import IfSomeFull

__all__ = [
    "AttendanceStatus", "BookingTicketDay", "BookingTicketRequest", "CalendarDay", "CalendarFeed", "CalendarMonth", "CalendarSettings",
    "CalendarSettingsIn", "CapacityIn", "Created", "DayCell", "DayChild", "DayGroup",
    "DayList", "DayReservation", "DayWaitingList", "DayWaitingRequest", "Deadline",
    "GroupAssignmentIn", "GroupChoice", "Occupancy", "OccupancyRow", "ReasonIn", "RequestItem",
    "RequestItems", "ReservationChange", "ReservationChangesIn", "ReservationResult",
    "ReservationResults", "ReservationStatus", "RollCall", "RollCallLine", "RollCallRecordIn",
    "RollCallRecordsIn", "ShuttleBooking", "ShuttleBookingIn", "ShuttleBookings",
    "ShuttleDirection", "ShuttleLine", "ShuttleLineIn", "ShuttleLines", "ShuttleResult",
    "ShuttleResults", "ShuttleStop", "ShuttleStopIn", "TypicalWeekIn", "UnitCode", "UnitIn",
    "UnitInfo", "UnitKind", "WaitingDay", "WaitingDays", "WeekInfo", "WeekdayUnitsIn",
]

UnitCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]
Label = Annotated[str, Field(min_length=1, max_length=120), SingleLine]
# « Accueils », « Suppléments », « Journée »: the three rows of the guide's grid.
UnitKind = Literal["accueil", "supplement", "journee"]
CellState = Literal["libre", "reservee", "liste_attente", "complet", "ferme"]


# --- calendars and their options (staff) ---------------------------------------------------------

class Deadline(Strict):
    """« la veille à 15 h » = days=1, working_days=False, cutoff=15:00: a day D may be booked (or
    cancelled) until D minus `days` (working days: Monday–Friday that are not public holidays) at
    `cutoff`, Europe/Paris."""

    days: Annotated[int, Field(ge=0, le=60)] = 1
    working_days: bool = False
    cutoff: time = time(15, 0)


class UnitIn(Strict):
    code: UnitCode
    label: Label
    kind: UnitKind
    # Booking this unit also books these (e.g. « journee » implies « repas »).
    implies: Annotated[list[UnitCode], Field(max_length=10)] = []


class CapacityIn(Strict):
    """Places of a group for a unit: every opening day, or one day when `day` is given."""

    group_id: uuid.UUID
    unit: UnitCode
    capacity: Annotated[int, Field(ge=0, le=10000)]
    day: date | None = None


class CalendarSettingsIn(Strict):
    """The manager's options (« selon les options choisies par le gestionnaire »)."""

    weekdays: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(max_length=7)] = [1, 2, 3, 4, 5]
    added_dates: Annotated[list[date], Field(max_length=366)] = []
    removed_dates: Annotated[list[date], Field(max_length=366)] = []
    skip_public_holidays: bool = True
    skip_school_holidays: bool = False
    school_zone: Literal["A", "B", "C"] | None = None
    booking_deadline: Deadline = Deadline()
    cancellation_deadline: Deadline = Deadline()
    horizon_days: Annotated[int | None, Field(ge=1, le=730)] = None
    families_may_modify: bool = True
    week_only: bool = False
    memo: FreeText(4000) = ""  # type: ignore[valid-type]
    # The scheduled opening of bookings (the opening rush): before it, families book nothing.
    bookings_open_at: AwareDatetime | None = Field(
        None, description="When families may start booking (null: at once). — Ouverture des "
                          "réservations aux familles (vide : dès maintenant).")
    units: Annotated[list[UnitIn], Field(min_length=1, max_length=20)]
    capacities: Annotated[list[CapacityIn], Field(max_length=5000)] = []


class UnitInfo(Answer):
    code: str
    label: str
    kind: UnitKind
    implies: list[str] = []


class WeekInfo(Answer):
    """A booking week as the guide's memo shows it (« Sem 1 : 20 et 21 octobre 2016 »)."""

    number: int
    label: str
    days: list[date]


class CalendarSettings(Answer):
    period_id: uuid.UUID
    period_label: str
    start_date: date
    end_date: date
    weekdays: list[int]
    added_dates: list[date] = []
    removed_dates: list[date] = []
    skip_public_holidays: bool
    skip_school_holidays: bool
    school_zone: str | None = None
    booking_deadline: Deadline
    cancellation_deadline: Deadline
    horizon_days: int | None = None
    families_may_modify: bool
    week_only: bool
    memo: str = ""
    bookings_open_at: datetime | None = Field(
        None, description="When families may start booking. — Ouverture des réservations.")
    units: list[UnitInfo]
    capacities: list[CapacityIn] = []
    opening_days: list[date]
    weeks: list[WeekInfo]
    version: int


# --- the month grid (parents) -------------------------------------------------------------------

class GroupChoice(Answer):
    group_id: uuid.UUID
    label: str


class DayCell(Answer):
    """One unit on one day for this child."""

    unit: str
    state: CellState
    position: int | None = None  # on the day's waiting list
    group_id: uuid.UUID | None = None  # the group of this day's reservation
    bookable: bool = False  # may be selected now
    cancellable: bool = False  # may be unselected now
    reason: str | None = None  # why not (French): « Délai de réservation dépassé (la veille à 15 h) »
    bookable_at_opening: bool = Field(
        False, description="Before a scheduled opening of bookings: may be asked in the "
                           "opening's queue (the rules judged at the opening time). — Avant "
                           "l'ouverture des réservations : peut être demandé dans la file de "
                           "l'ouverture (règles appréciées à l'heure d'ouverture).")


class CalendarDay(Answer):
    day: date
    weekday_letter: str  # L M M J V S D, as in the guide
    open: bool
    closed_reason: str | None = None  # « Jour férié », « Hors période », « Fermé »…
    past: bool = False
    cells: list[DayCell] = []


class CalendarMonth(Answer):
    registration_id: uuid.UUID
    child_id: uuid.UUID
    child_first_name: str
    facility_name: str
    activity_name: str
    period_id: uuid.UUID
    period_label: str
    start_date: date
    end_date: date
    group_id: uuid.UUID  # « Choix du Groupe »: the registration's group, the default
    group_label: str
    groups: list[GroupChoice]  # the period's groups the child may be assigned to
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]
    previous_month: str | None = None
    next_month: str | None = None
    memo: str = ""
    week_only: bool = False
    families_may_modify: bool = True
    weeks: list[WeekInfo] = []
    units: list[UnitInfo]
    days: list[CalendarDay]
    typical_week: list[WeekdayUnitsOut] = []  # sent with the registration
    bookings_open_at: datetime | None = Field(
        None, description="The scheduled opening of bookings (the opening rush; null: none). — "
                          "Ouverture programmée des réservations (vide : aucune).")


class WeekdayUnitsOut(Answer):
    weekday: int
    units: list[str] = []


CalendarMonth.model_rebuild()


class ReservationChange(Strict):
    day: date
    unit: UnitCode
    action: Literal["reserver", "annuler"]
    group_id: uuid.UUID | None = None  # « Affecter les Groupes »; default: the registration's


class ReservationChangesIn(Strict):
    changes: Annotated[list[ReservationChange], Field(min_length=1, max_length=400)]


class ReservationResult(Answer):
    day: date
    unit: str
    action: str
    ok: bool
    status: ReservationStatus | None = None
    position: int | None = None
    detail: str  # French: the outcome, or the rule that refused it


class ReservationResults(Answer):
    results: list[ReservationResult]


class WeekdayUnitsIn(Strict):
    weekday: Annotated[int, Field(ge=1, le=7)]
    units: Annotated[list[UnitCode], Field(max_length=20)] = []


class TypicalWeekIn(Strict):
    """« Réservation selon une semaine type »: the pattern applied from `start` to `end`."""

    start: date
    end: date
    days: Annotated[list[WeekdayUnitsIn], Field(max_length=7)]
    group_id: uuid.UUID | None = None


class GroupAssignmentIn(Strict):
    """« Affecter les Groupes »: move this child's reservations of these days to a group."""

    group_id: uuid.UUID
    days: Annotated[list[date], Field(min_length=1, max_length=62)]


class WaitingDay(Answer):
    reservation_id: uuid.UUID
    registration_id: uuid.UUID
    child_id: uuid.UUID
    child_first_name: str
    period_label: str
    group_label: str
    day: date
    unit: str
    unit_label: str
    position: int


class WaitingDays(Answer):
    items: list[WaitingDay]


# --- shuttles -----------------------------------------------------------------------------------

class ShuttleStopIn(Strict):
    name: Label
    morning_time: time | None = None
    evening_time: time | None = None


class ShuttleLineIn(Strict):
    period_id: uuid.UUID
    name: Label
    seats: Annotated[int, Field(ge=1, le=200)]
    stops: Annotated[list[ShuttleStopIn], Field(min_length=1, max_length=40)]


class ShuttleStop(Answer):
    stop_id: uuid.UUID
    name: str
    morning_time: time | None = None
    evening_time: time | None = None


class ShuttleLine(Answer):
    line_id: uuid.UUID
    period_id: uuid.UUID
    name: str
    seats: int
    stops: list[ShuttleStop]


class ShuttleLines(Answer):
    items: list[ShuttleLine]


class ShuttleBookingIn(Strict):
    """« Mes navettes »: a stop, morning (aller) and/or evening (retour), on booked days."""

    stop_id: uuid.UUID
    directions: Annotated[list[ShuttleDirection], Field(min_length=1, max_length=2)]
    days: Annotated[list[date], Field(min_length=1, max_length=62)]
    action: Literal["reserver", "annuler"] = "reserver"


class ShuttleBooking(Answer):
    shuttle_booking_id: uuid.UUID
    child_id: uuid.UUID
    line_name: str
    stop_name: str
    direction: ShuttleDirection
    day: date
    scheduled_time: time | None = None  # the stop's time for that direction


class ShuttleBookings(Answer):
    items: list[ShuttleBooking]


class ShuttleResult(Answer):
    day: date
    direction: ShuttleDirection
    ok: bool
    detail: str


class ShuttleResults(Answer):
    results: list[ShuttleResult]


# --- calendar feeds ------------------------------------------------------------------------------

class CalendarFeed(Answer):
    """A private subscription URL a phone calendar can follow (revoked by asking a new one)."""

    url: str


# --- staff views ---------------------------------------------------------------------------------

class OccupancyRow(Answer):
    day: date
    group_id: uuid.UUID
    group_label: str
    unit: str
    capacity: int
    booked: int
    waiting: int


class Occupancy(Answer):
    period_id: uuid.UUID
    rows: list[OccupancyRow]


class DayReservation(Answer):
    """One booked unit of a child on the day: what staff may cancel from the day page."""

    reservation_id: uuid.UUID
    unit: str
    unit_label: str


class DayChild(Answer):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    units: list[str]
    notes: str = ""  # the registration's memo (allergies, who picks the child up…)
    shuttle: str | None = None  # « Ligne 1 — Mairie (aller 8 h 05) »
    # The booked units with their reservation ids, in the grid's order (same order as `units`).
    reservations: list[DayReservation] = []


class DayGroup(Answer):
    group_id: uuid.UUID
    label: str
    children: list[DayChild]


class DayList(Answer):
    period_id: uuid.UUID
    day: date
    groups: list[DayGroup]


class DayWaitingRequest(Answer):
    reservation_id: uuid.UUID
    child_id: uuid.UUID
    child_first_name: str
    child_last_name: str
    group_id: uuid.UUID
    group_label: str
    unit: str
    position: int
    requested_at: datetime


class DayWaitingList(Answer):
    period_id: uuid.UUID
    day: date
    items: list[DayWaitingRequest]


class RollCallRecordIn(Strict):
    child_id: uuid.UUID
    status: AttendanceStatus
    reason: FreeText(200) | None = None  # type: ignore[valid-type]


class RollCallRecordsIn(Strict):
    records: Annotated[list[RollCallRecordIn], Field(min_length=1, max_length=500)]


class ReasonIn(Strict):
    reason: FreeText(500, min_length=1)  # type: ignore[valid-type]


class RollCallLine(Answer):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    booked_units: list[str]  # empty for a child present without booking
    status: AttendanceStatus | None = None
    reason: str | None = None
    notes: str = ""


class RollCall(Answer):
    period_id: uuid.UUID
    group_id: uuid.UUID
    group_label: str
    day: date
    locked: bool
    locked_at: datetime | None = None
    locked_by: uuid.UUID | None = None
    lines: list[RollCallLine]


# --- the opening queue (issue « The opening rush », docs/opening-rush.md) ------------------------

# The field is named `date` (the body's word); the type under another name avoids the clash.
_Day = date


class BookingTicketDay(Strict):
    date: _Day = Field(description="The day asked. — Le jour demandé.")
    unit: UnitCode = Field(description="The unit asked that day (« journee », « repas »…). — "
                                       "La prestation demandée ce jour-là.")


class BookingTicketRequest(Strict):
    """Days of one registration's period, submitted at the opening: acknowledged at once with a
    ticket (`marelle_contracts.http.queue.Ticket`), decided in arrival order."""

    registration_id: uuid.UUID = Field(description="The child's validated registration. — "
                                                   "L'inscription validée de l'enfant.")
    days: Annotated[list[BookingTicketDay], Field(
        min_length=1, max_length=250,
        description="The days × units asked (each pair once). — Les jours × prestations "
                    "demandés (chacun une fois).")]
    if_some_full: IfSomeFull = Field(
        "prendre_le_reste",
        description="When some days are full: book the others and waitlist those "
                    "(prendre_le_reste), or book none and waitlist all (tout_ou_rien). — Si "
                    "certains jours sont complets : réserver les autres et mettre ceux-là en "
                    "liste d'attente, ou ne rien réserver et tout mettre en liste d'attente.")


# Staff creations answer `Created`; dashboards answer `RequestItems`.
_ = (Created, RequestItem, RequestItems)
