"""Events published by booking on `marelle.booking.v1`.

Reservation, shuttle and attendance events are keyed by child id (one child's days in order);
roll-call events by group id. Each carries its own aggregate's version in the envelope
(`aggregate_version`): the reservation, the shuttle booking, the attendance record, the roll call.
Billing prices from these.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ReservationStatus(StrEnum):
    BOOKED = "reservee"
    WAITLISTED = "liste_attente"
    CANCELLED = "annulee"


class ReservationFacts(_Payload):
    """One child booked (or waiting) on one day for one unit (accueil matin, repas, journée…)."""

    reservation_id: uuid.UUID
    registration_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    day: date
    unit: str  # the unit's code in the period's calendar, e.g. "repas"
    unit_label: str
    status: ReservationStatus


class ReservationConfirmed(ReservationFacts):
    pass


class ReservationWaitlisted(ReservationFacts):
    position: int


class ReservationPromoted(ReservationFacts):
    """A place freed up on that day: taken off the day's waiting list, now booked."""


class ReservationCancelled(ReservationFacts):
    cancelled_by: str  # "famille" | "structure" | "inscription" (registration cancelled/refused)
    cancelled_at: datetime
    within_deadline: bool


class ShuttleDirection(StrEnum):
    MORNING = "aller"
    EVENING = "retour"


class ShuttleFacts(_Payload):
    shuttle_booking_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_id: uuid.UUID
    line_id: uuid.UUID
    line_name: str
    stop_id: uuid.UUID
    stop_name: str
    direction: ShuttleDirection
    day: date


class ShuttleBooked(ShuttleFacts):
    pass


class ShuttleCancelled(ShuttleFacts):
    cancelled_by: str  # "famille" | "structure" | "reservation"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    ABSENT_JUSTIFIED = "absent_justifie"
    ABSENT_UNJUSTIFIED = "absent_injustifie"
    PRESENT_UNBOOKED = "present_sans_reservation"


class AttendanceRecorded(_Payload):
    attendance_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    day: date
    status: AttendanceStatus
    reason: str | None = None  # e.g. « Maladie (certificat) » for a justified absence
    recorded_by: uuid.UUID


class RollCallLocked(_Payload):
    roll_call_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    day: date
    locked_by: uuid.UUID
    locked_at: datetime
    present: int
    absent: int
