"""Facts other municipal systems own, published by them on Marelle's inbound topics.

They use the same envelope as Marelle's own events (`event_id` for deduplication, `producer` naming
the system, `aggregate_version` optional). Both topics are keyed by the id their consumer orders
by: the family for a quotient, the child for a class assignment.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class QuotientSource(StrEnum):
    """Who computed the quotient. — Organisme qui a calculé le quotient."""

    CAF = "caf"
    MSA = "msa"


class FamilyQuotientUpdated(_Payload):
    """A family's quotient familial from the CAF/MSA data connector. — Le quotient familial d'une
    famille, transmis par le connecteur CAF/MSA."""

    family_id: uuid.UUID | None = Field(
        default=None, description="Marelle's household id, when the connector knows it. — "
                                  "Identifiant du foyer dans Marelle, si le connecteur le connaît.")
    beneficiary_number: str | None = Field(
        default=None, min_length=1, max_length=20,
        description="The family's CAF/MSA beneficiary number (used when family_id is absent). — "
                    "Numéro d'allocataire CAF/MSA du foyer (utilisé sans family_id).")
    qf: int = Field(ge=0, le=100_000,
                    description="Quotient familial, in euros per month. — Quotient familial, en "
                                "euros par mois.")
    qf_date: date = Field(description="Date the quotient is valid from (a newer date replaces an "
                                      "older one, never the reverse). — Date de valeur du "
                                      "quotient (une date plus récente remplace une plus "
                                      "ancienne, jamais l'inverse).")
    source: QuotientSource = Field(description="caf or msa. — caf ou msa.")

    @model_validator(mode="after")
    def _identified(self) -> "FamilyQuotientUpdated":
        if self.family_id is None and self.beneficiary_number is None:
            raise ValueError("family_id or beneficiary_number is required (family_id ou "
                             "beneficiary_number est obligatoire)")
        return self


class ChildAssignedToClass(_Payload):
    """A child's school and class for a school year, from the schools' system. — L'école et la
    classe d'un enfant pour une année scolaire, transmises par le système des écoles."""

    child_id: uuid.UUID = Field(description="Marelle's child id. — Identifiant de l'enfant dans "
                                            "Marelle.")
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$",
                             description="School year, e.g. 2026-2027. — Année scolaire, par "
                                         "exemple 2026-2027.")
    school_id: str = Field(min_length=1, max_length=20,
                           description="The school's identifier (UAI). — Identifiant de l'école "
                                       "(UAI).")
    school_name: str = Field(min_length=1, max_length=120,
                             description="The school's name. — Nom de l'école.")
    class_name: str = Field(min_length=1, max_length=60,
                            description="The class, e.g. « CP A ». — La classe, par exemple « CP "
                                        "A ».")
    level: str = Field(pattern=r"^(TPS|PS|MS|GS|CP|CE1|CE2|CM1|CM2)$",
                       description="Level: TPS, PS, MS, GS (maternelle), CP, CE1, CE2, CM1, CM2 "
                                   "(élémentaire). — Niveau : TPS, PS, MS, GS (maternelle), CP, "
                                   "CE1, CE2, CM1, CM2 (élémentaire).")
    assigned_on: date = Field(description="Date of the assignment (a later one replaces an "
                                          "earlier one for the same year). — Date de "
                                          "l'affectation (une plus récente remplace la "
                                          "précédente pour la même année).")
