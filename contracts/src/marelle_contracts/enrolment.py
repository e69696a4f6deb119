"""Events published by enrolment on `marelle.enrolment.v1`.

Catalogue events are keyed by period id; registration and attestation events by child id, so one
child's story is read in order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_PERIOD_ID = "Period id. — Identifiant de la période."
_GROUP_ID = "Group id. — Identifiant du groupe."
_CHILD_ID = "Child id; the Kafka key. — Identifiant de l'enfant ; la clé Kafka."
_FAMILY_ID = "Household (family) id. — Identifiant du foyer."
_REGISTRATION_ID = "Registration id. — Identifiant de l'inscription."


class RegistrationStatus(StrEnum):
    """Registration status: en_attente (pending staff validation), validee (validated), refusee
    (refused), annulee (cancelled), liste_attente (on the group's waiting list). — Statut de
    l'inscription : en_attente (à valider par la structure), validee, refusee, annulee,
    liste_attente (sur la liste d'attente du groupe)."""

    PENDING = "en_attente"
    VALIDATED = "validee"
    REFUSED = "refusee"
    CANCELLED = "annulee"
    WAITLISTED = "liste_attente"


class GroupFacts(_Payload):
    """An age group of a period, with its capacity. — Un groupe d'âge d'une période, avec sa
    capacité."""

    group_id: uuid.UUID = Field(description=_GROUP_ID)
    label: str = Field(description="Group label, e.g. « 6-8 ans ». — Libellé du groupe, ex. "
                                   "« 6-8 ans ».")
    min_age: int = Field(description="Youngest age accepted, in years, on the period's first day. "
                                     "— Âge minimum accepté, en années, au premier jour de la "
                                     "période.")
    max_age: int = Field(description="Oldest age accepted, in years, on the period's first day. — "
                                     "Âge maximum accepté, en années, au premier jour de la "
                                     "période.")
    capacity: int = Field(description="Number of places in the group. — Nombre de places du "
                                      "groupe.")
    closed: bool = Field(default=False, description="True when the group is closed to new "
                                                    "registrations. — Vrai quand le groupe est "
                                                    "fermé aux nouvelles inscriptions.")


class PeriodFacts(_Payload):
    """A period with its place in the catalogue and its groups (whole state)."""

    period_id: uuid.UUID = Field(description="Period id; the Kafka key. — Identifiant de la "
                                             "période ; la clé Kafka.")
    facility_id: uuid.UUID = Field(description="Facility id. — Identifiant de l'équipement.")
    facility_name: str = Field(description="Facility name, e.g. « CENTRE DE LOISIRS ALSH ». — "
                                           "Nom de l'équipement, ex. « CENTRE DE LOISIRS ALSH ».")
    activity_type_id: uuid.UUID = Field(description="Activity type id. — Identifiant du type "
                                                    "d'activité.")
    activity_type_name: str = Field(description="Activity type name, e.g. « Vacances ». — Nom du "
                                                "type d'activité, ex. « Vacances ».")
    activity_id: uuid.UUID = Field(description="Activity id. — Identifiant de l'activité.")
    activity_name: str = Field(description="Activity name, e.g. « AUTOMNE ». — Nom de l'activité, "
                                           "ex. « AUTOMNE ».")
    pre_registration: bool = Field(
        default=False, description="True when registrations to this activity are "
                                   "pre-registrations, validated later by the structure. — Vrai "
                                   "quand les inscriptions à cette activité sont des "
                                   "pré-inscriptions, validées ensuite par la structure.")
    label: str = Field(description="Period label, e.g. « Automne 2026 ». — Libellé de la période, "
                                   "ex. « Automne 2026 ».")
    start_date: date = Field(description="First day of the period. — Premier jour de la période.")
    end_date: date = Field(description="Last day of the period. — Dernier jour de la période.")
    opens_at: datetime = Field(description="When families may start registering. — Ouverture "
                                           "des inscriptions aux familles.")
    closes_at: datetime = Field(description="When registrations close. — Clôture des "
                                            "inscriptions.")
    closed: bool = Field(default=False, description="True when the period was closed (no longer "
                                                    "offered). — Vrai quand la période a été "
                                                    "fermée (plus proposée).")
    groups: list[GroupFacts] = Field(default=[], description="The period's groups (whole state). "
                                                             "— Les groupes de la période (état "
                                                             "complet).")


class PeriodPublished(PeriodFacts):
    pass


class PeriodChanged(PeriodFacts):
    pass


class WeekdayUnits(_Payload):
    """One weekday of a typical week (1 = Monday … 7 = Sunday) and, later, its units."""

    weekday: int = Field(description="Day of the week: 1 = Monday … 7 = Sunday. — Jour de la "
                                     "semaine : 1 = lundi … 7 = dimanche.")
    units: list[str] = Field(default=[], description="Codes of the units booked that day (e.g. "
                                                     "repas); may be empty for now. — Codes des "
                                                     "unités réservées ce jour-là (ex. repas) ; "
                                                     "peut être vide pour l'instant.")


class RegistrationFacts(_Payload):
    """A child's registration to a period's group (whole state). — L'inscription d'un enfant au
    groupe d'une période (état complet)."""

    registration_id: uuid.UUID = Field(description=_REGISTRATION_ID)
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    period_id: uuid.UUID = Field(description=_PERIOD_ID)
    group_id: uuid.UUID = Field(description=_GROUP_ID)
    facility_name: str = Field(description="Facility name. — Nom de l'équipement.")
    activity_name: str = Field(description="Activity name. — Nom de l'activité.")
    period_label: str = Field(description="Period label. — Libellé de la période.")
    group_label: str = Field(description="Group label. — Libellé du groupe.")
    start_date: date = Field(description="First day of the period. — Premier jour de la période.")
    end_date: date = Field(description="Last day of the period. — Dernier jour de la période.")
    status: RegistrationStatus = Field(description="Status after this event. — Statut après cet "
                                                   "événement.")
    typical_week: list[WeekdayUnits] = Field(
        default=[], description="The typical week (semaine type) asked for: the weekdays the "
                                "child comes. — La semaine type demandée : les jours où l'enfant "
                                "vient.")
    memo: str = Field(default="", description="The family's note to the structure (allergies, "
                                              "pick-up…); staff day lists show it. — La note de "
                                              "la famille à la structure (allergies, personnes "
                                              "autorisées…) ; les listes du jour du personnel "
                                              "l'affichent.")


class RegistrationRequested(RegistrationFacts):
    pass


class RegistrationValidated(RegistrationFacts):
    pass


class RegistrationRefused(RegistrationFacts):
    reason: str = Field(description="Why the structure refused (shown to the family). — Motif du "
                                    "refus par la structure (montré à la famille).")


class RegistrationWaitlisted(RegistrationFacts):
    position: int = Field(description="Position on the group's waiting list (1 = next). — Rang "
                                      "sur la liste d'attente du groupe (1 = le prochain).")


class RegistrationPromoted(RegistrationFacts):
    """Taken off the waiting list: now validated (status) or pending staff validation."""


class RegistrationCancelled(RegistrationFacts):
    cancelled_by: str = Field(description="Who cancelled: « famille » or « structure ». — Qui "
                                          "a annulé : « famille » ou « structure ».")


class AttestationIssued(_Payload):
    attestation_id: uuid.UUID = Field(description="Attestation id. — Identifiant de "
                                                  "l'attestation.")
    registration_id: uuid.UUID = Field(description=_REGISTRATION_ID)
    child_id: uuid.UUID = Field(description=_CHILD_ID)
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    period_label: str = Field(description="Label of the period attested. — Libellé de la période "
                                          "attestée.")
