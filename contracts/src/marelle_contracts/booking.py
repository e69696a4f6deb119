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

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_CHILD_ID = "Child id; the Kafka key. — Identifiant de l'enfant ; la clé Kafka."
_FAMILY_ID = "Household (family) id. — Identifiant du foyer."
_PERIOD_ID = ("Period id (enrolment's catalogue). — Identifiant de la période (catalogue "
              "d'enrolment).")
_GROUP_ID = "Group id (enrolment's catalogue). — Identifiant du groupe (catalogue d'enrolment)."
_DAY = "The day concerned. — Le jour concerné."


class ReservationStatus(StrEnum):
    """Reservation status: reservee (booked), liste_attente (on the day's waiting list), annulee
    (cancelled). — Statut de la réservation : reservee, liste_attente (sur la liste d'attente du
    jour), annulee."""

    BOOKED = "reservee"
    WAITLISTED = "liste_attente"
    CANCELLED = "annulee"


class ReservationFacts(_Payload):
    """One child booked (or waiting) on one day for one unit (accueil matin, repas, journée…)."""

    reservation_id: uuid.UUID = Field(description="Reservation id. — Identifiant de la "
                                                  "réservation.")
    registration_id: uuid.UUID = Field(description="The registration (enrolment) it is booked "
                                                   "under. — L'inscription (enrolment) sous "
                                                   "laquelle elle est réservée.")
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    period_id: uuid.UUID = Field(description=_PERIOD_ID)
    group_id: uuid.UUID = Field(description=_GROUP_ID)
    day: date = Field(description="The day booked. — Le jour réservé.")
    unit: str = Field(description="The unit's code in the period's calendar, e.g. « repas ». — "
                                  "Le code de l'unité dans le calendrier de la période, ex. "
                                  "« repas ».")
    unit_label: str = Field(description="The unit's label, e.g. « Repas ». — Le libellé de "
                                        "l'unité, ex. « Repas ».")
    status: ReservationStatus = Field(description="Status after this event. — Statut après cet "
                                                  "événement.")


class ReservationConfirmed(ReservationFacts):
    pass


class ReservationWaitlisted(ReservationFacts):
    position: int = Field(description="Position on the day's waiting list (1 = next). — Rang sur "
                                      "la liste d'attente du jour (1 = le prochain).")


class ReservationPromoted(ReservationFacts):
    """A place freed up on that day: taken off the day's waiting list, now booked."""


class ReservationCancelled(ReservationFacts):
    cancelled_by: str = Field(
        description="Who cancelled: « famille », « structure » or « inscription » (the "
                    "registration was cancelled or refused). — Qui a annulé : « famille », "
                    "« structure » ou « inscription » (l'inscription a été annulée ou refusée).")
    cancelled_at: datetime = Field(description="When it was cancelled. — Date et heure de "
                                               "l'annulation.")
    within_deadline: bool = Field(
        description="True when cancelled before the notice deadline (délai de prévenance); a "
                    "late cancellation may be billed. — Vrai quand l'annulation précède le délai "
                    "de prévenance ; une annulation tardive peut être facturée.")


class ShuttleDirection(StrEnum):
    """Shuttle direction: aller (morning, to the centre) or retour (evening, back). — Sens de
    la navette : aller (le matin, vers le centre) ou retour (le soir)."""

    MORNING = "aller"
    EVENING = "retour"


class ShuttleFacts(_Payload):
    """A child booked on a shuttle (navette) stop for a day. — Un enfant inscrit à un arrêt de
    navette pour un jour."""

    shuttle_booking_id: uuid.UUID = Field(description="Shuttle booking id. — Identifiant de la "
                                                      "réservation de navette.")
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    period_id: uuid.UUID = Field(description=_PERIOD_ID)
    line_id: uuid.UUID = Field(description="Shuttle line id. — Identifiant de la ligne de "
                                           "navette.")
    line_name: str = Field(description="Shuttle line name. — Nom de la ligne de navette.")
    stop_id: uuid.UUID = Field(description="Stop id. — Identifiant de l'arrêt.")
    stop_name: str = Field(description="Stop name. — Nom de l'arrêt.")
    direction: ShuttleDirection = Field(description="aller (morning) or retour (evening). — "
                                                    "aller (matin) ou retour (soir).")
    day: date = Field(description=_DAY)


class ShuttleBooked(ShuttleFacts):
    pass


class ShuttleCancelled(ShuttleFacts):
    cancelled_by: str = Field(
        description="Who cancelled: « famille », « structure » or « reservation » (the day's "
                    "reservation was cancelled). — Qui a annulé : « famille », « structure » ou "
                    "« reservation » (la réservation du jour a été annulée).")


class AttendanceStatus(StrEnum):
    """Roll-call status: present, absent_justifie (justified absence), absent_injustifie
    (unjustified absence), present_sans_reservation (present without a booking). — Statut du
    pointage : present, absent_justifie, absent_injustifie, present_sans_reservation."""

    PRESENT = "present"
    ABSENT_JUSTIFIED = "absent_justifie"
    ABSENT_UNJUSTIFIED = "absent_injustifie"
    PRESENT_UNBOOKED = "present_sans_reservation"


class AttendanceRecorded(_Payload):
    attendance_id: uuid.UUID = Field(description="Attendance record id. — Identifiant du "
                                                 "pointage.")
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    period_id: uuid.UUID = Field(description=_PERIOD_ID)
    group_id: uuid.UUID = Field(description=_GROUP_ID)
    day: date = Field(description=_DAY)
    status: AttendanceStatus = Field(description="What the roll call recorded. — Ce que le "
                                                 "pointage a relevé.")
    reason: str | None = Field(
        default=None, description="Reason, e.g. « Maladie (certificat) » for a justified "
                                  "absence. — Motif, ex. « Maladie (certificat) » pour une "
                                  "absence justifiée.")
    recorded_by: uuid.UUID = Field(description="Staff account that recorded it. — Compte du "
                                               "personnel qui l'a saisi.")


class RollCallLocked(_Payload):
    roll_call_id: uuid.UUID = Field(description="Roll call id. — Identifiant de l'appel.")
    period_id: uuid.UUID = Field(description=_PERIOD_ID)
    group_id: uuid.UUID = Field(description="Group id; the Kafka key. — Identifiant du groupe ; "
                                            "la clé Kafka.")
    day: date = Field(description=_DAY)
    locked_by: uuid.UUID = Field(description="Staff account that locked it. — Compte du "
                                             "personnel qui l'a verrouillé.")
    locked_at: datetime = Field(description="When it was locked. — Date et heure du "
                                            "verrouillage.")
    present: int = Field(description="Children present (booked or not). — Enfants présents "
                                     "(réservés ou non).")
    absent: int = Field(description="Children absent (justified or not). — Enfants absents "
                                    "(justifiés ou non).")


class TicketLine(_Payload):
    label: str = Field(description="The day and unit, for people. — Le jour et l'accueil "
                                   "(« Léa, mercredi 8 juillet, journée »).")
    status: str = Field(description="reservee, liste_attente or refusee. — Le résultat.")
    detail: str = Field(description="The outcome in French. — Le résultat, en français.")


class TicketDecided(_Payload):
    """A booking ticket of an opening (docs/opening-rush.md) was decided: its days' outcomes in
    one event, so the family gets one email rather than one per day (the reservation events
    follow as usual). — Un ticket de réservation d'une ouverture a été traité : les résultats
    de ses jours en un seul événement, pour un seul courriel à la famille."""

    ticket_id: uuid.UUID = Field(description="The ticket. — Le ticket.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    registration_id: uuid.UUID = Field(description="The registration booked on. — "
                                                   "L'inscription concernée.")
    period_label: str = Field(description="The period. — La période.")
    position: int = Field(description="Order of arrival on the period. — Rang d'arrivée.")
    booked: int = Field(description="Days booked. — Jours réservés.")
    waitlisted: int = Field(description="Days on a waiting list. — Jours en liste d'attente.")
    refused: int = Field(description="Days refused. — Jours refusés.")
    lines: list[TicketLine] = Field(max_length=250, description="Each day's outcome. — Le "
                                                                "résultat de chaque jour.")
