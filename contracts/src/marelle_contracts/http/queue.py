"""The opening queue's tickets (issue « The opening rush »), shared by enrolment, booking, the
gateway and the back-office: a submission is acknowledged at once with a ticket and its place in
line, then decided in arrival order per scarce resource by the owning service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from marelle_contracts.http._base import Answer

# A family's own key for one submission: a refresh, a double click or a resubmission with the
# same key returns the same ticket (never a second place, never a second booking).
IdempotencyKey = Annotated[str, StringConstraints(min_length=8, max_length=64,
                                                  pattern=r"^[A-Za-z0-9_.:-]+$")]
IF_SOME_FULL = ("prendre_le_reste", "tout_ou_rien")
IfSomeFull = Literal["prendre_le_reste", "tout_ou_rien"]


class TicketOutcome(Answer):
    subject_id: uuid.UUID = Field(description="The child the outcome is about. — L'enfant concerné.")
    label: str = Field(description="What was decided, for people. — Ce qui a été décidé "
                                   "(« Léa », « Léa — mercredi 8 juillet, journée »).")
    ok: bool = Field(description="Granted or waitlisted (true), refused (false). — Accordé ou "
                                 "en liste d'attente (vrai), refusé (faux).")
    status: str = Field(description="The resulting status (validee, en_attente, liste_attente, "
                                    "reservee, refusee). — Le statut obtenu.")
    reference_id: uuid.UUID | None = Field(
        None, description="The registration or reservation created. — L'inscription ou la "
                          "réservation créée.")
    detail: str = Field(description="The outcome in French. — Le résultat, en français.")


class Ticket(Answer):
    id: uuid.UUID = Field(description="The ticket. — Le ticket.")
    kind: Literal["inscription", "reservation"] = Field(
        description="What was asked. — Ce qui a été demandé.")
    resource_label: str = Field(description="The group or period asked. — Le groupe ou la "
                                            "période demandé(e).")
    status: Literal["en_file", "traite"] = Field(
        description="Waiting for its turn, or decided. — En file, ou traité.")
    position: int = Field(description="Order of arrival on the resource (1 = first). — Rang "
                                      "d'arrivée sur la ressource (1 = premier).")
    ahead: int = Field(description="Tickets still to decide before this one. — Tickets à "
                                   "traiter avant celui-ci.")
    received_at: datetime = Field(description="When it was acknowledged. — Heure de réception.")
    decided_at: datetime | None = Field(None, description="When it was decided. — Heure de "
                                                          "la décision.")
    if_some_full: IfSomeFull = Field(description="What to do when some are full. — Si une "
                                                 "partie est complète.")
    outcomes: list[TicketOutcome] = Field(default_factory=list,
                                          description="One per child or day, once decided. — "
                                                      "Un par enfant ou jour, une fois traité.")


class Tickets(Answer):
    items: list[Ticket] = Field(description="The family's tickets, newest first. — Les tickets "
                                            "de la famille, du plus récent au plus ancien.")


class OpeningResource(Answer):
    id: uuid.UUID = Field(description="The group (or period). — Le groupe (ou la période).")
    label: str = Field(description="Its name. — Son nom.")
    capacity: int = Field(description="Places. — Places.")
    received: int = Field(description="Tickets received. — Tickets reçus.")
    decided: int = Field(description="Tickets decided. — Tickets traités.")
    places_left: int = Field(description="Places left. — Places restantes.")
    waitlisted: int = Field(description="On the waiting list. — En liste d'attente.")


class OpeningStatus(Answer):
    period_id: uuid.UUID = Field(description="The period. — La période.")
    label: str = Field(description="Its name. — Son nom.")
    opens_at: datetime | None = Field(None, description="Opening to all. — Ouverture à tous.")
    priority_opens_at: datetime | None = Field(None, description="Priority opening. — "
                                                                 "Ouverture prioritaire.")
    residents_open_at: datetime | None = Field(None, description="Opening to residents. — "
                                                                 "Ouverture aux résidents.")
    resources: list[OpeningResource] = Field(description="Per group. — Par groupe.")


class OpeningGroup(Answer):
    group_id: uuid.UUID = Field(description="The group. — Le groupe.")
    label: str = Field(description="Its name. — Son nom.")
    min_age: int = Field(description="Youngest age. — Âge minimum.")
    max_age: int = Field(description="Oldest age. — Âge maximum.")
    capacity: int = Field(description="Places. — Places.")
    child_ids: list[uuid.UUID] = Field(description="The household's children of its ages. — Les "
                                                   "enfants du foyer qui ont l'âge du groupe.")


class Opening(Answer):
    period_id: uuid.UUID = Field(description="The period. — La période.")
    facility_name: str = Field(description="The facility. — L'équipement.")
    activity_name: str = Field(description="The activity. — L'activité.")
    label: str = Field(description="The period's name. — Le nom de la période.")
    start_date: date = Field(description="First day. — Premier jour.")
    end_date: date = Field(description="Last day. — Dernier jour.")
    opens_at: datetime = Field(description="Opening to all. — Ouverture à tous.")
    priority_opens_at: datetime | None = Field(
        None, description="Opening to families already registered last time. — Ouverture aux "
                          "familles déjà inscrites la fois précédente.")
    residents_open_at: datetime | None = Field(
        None, description="Opening to households living in the city. — Ouverture aux familles "
                          "résidant dans la commune.")
    district_label: str | None = Field(
        None, description="The household's district when the period opens earlier to it. — "
                          "Quartier du foyer quand la période lui ouvre plus tôt.")
    district_opens_at: datetime | None = Field(
        None, description="Opening to the household's district. — Ouverture aux familles du "
                          "quartier du foyer.")
    closes_at: datetime = Field(description="Closing. — Fermeture.")
    open_now: bool = Field(description="Requests may be sent now. — Les demandes peuvent être "
                                       "envoyées maintenant.")
    groups: list[OpeningGroup] = Field(description="Groups some child of the household fits. — "
                                                   "Les groupes où un enfant du foyer a l'âge.")


class Openings(Answer):
    items: list[Opening] = Field(description="Open now or opening soon. — Ouvertes ou bientôt "
                                             "ouvertes.")
