"""Events published by identity on `marelle.identity.v1`, keyed by family id."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Sex(StrEnum):
    """Sex as recorded by the family: F (female) or M (male). — Sexe déclaré par la famille :
    F (féminin) ou M (masculin)."""

    FEMALE = "F"
    MALE = "M"


class BeneficiaryScheme(StrEnum):
    """Family-benefit scheme of the beneficiary: CAF, MSA or AUTRE (other). — Régime
    d'allocations familiales de l'allocataire : CAF, MSA ou AUTRE."""

    CAF = "CAF"
    MSA = "MSA"
    OTHER = "AUTRE"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_FAMILY_ID = "Household (family) id; the Kafka key. — Identifiant du foyer ; la clé Kafka."
_REQUEST_ID = ("Contact-change request id. — Identifiant de la demande de modification des "
               "coordonnées.")
_DECIDED_BY = "Staff account that decided. — Compte du personnel qui a décidé."


class ChildFacts(_Payload):
    """A child of the household. — Un enfant du foyer."""

    child_id: uuid.UUID = Field(description="Child id (stable across events). — Identifiant de "
                                            "l'enfant (stable d'un événement à l'autre).")
    first_name: str = Field(description="First name. — Prénom.")
    last_name: str = Field(description="Last name. — Nom de famille.")
    birth_date: date = Field(description="Date of birth. — Date de naissance.")
    sex: Sex | None = Field(default=None, description="Sex (F or M), if known. — Sexe (F ou M), "
                                                      "s'il est connu.")


class GuardianFacts(_Payload):
    """A guardian (parent or legal guardian) of the household. — Un responsable légal du foyer."""

    guardian_id: uuid.UUID = Field(description="Guardian id. — Identifiant du responsable légal.")
    rank: int = Field(description="Rank in the household: 1 for the first guardian, 2 for the "
                                  "second. — Rang dans le foyer : 1 pour le premier responsable, "
                                  "2 pour le second.")
    first_name: str = Field(description="First name. — Prénom.")
    last_name: str = Field(description="Last name. — Nom de famille.")
    birth_date: date | None = Field(default=None, description="Date of birth, if known. — Date de "
                                                              "naissance, si elle est connue.")
    sex: Sex | None = Field(default=None, description="Sex (F or M), if known. — Sexe (F ou M), "
                                                      "s'il est connu.")


class GuardianPhones(_Payload):
    """A guardian's phone numbers (E.164). — Les numéros de téléphone d'un responsable (E.164)."""

    guardian_id: uuid.UUID = Field(description="Guardian id. — Identifiant du responsable légal.")
    rank: int = Field(description="Rank in the household (1 or 2). — Rang dans le foyer (1 ou 2).")
    mobile_phone: str | None = Field(
        default=None, description="Mobile phone in E.164 format (e.g. +33612345678), if any. — "
                                  "Téléphone portable au format E.164 (ex. +33612345678), s'il "
                                  "existe.")
    work_phone: str | None = Field(
        default=None, description="Work phone in E.164 format, if any. — Téléphone professionnel "
                                  "au format E.164, s'il existe.")


class FamilyCreated(_Payload):
    """A household was created, with the people known at creation."""

    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    name: str = Field(description="Household name, e.g. « Famille Durand ». — Nom du foyer, ex. "
                                  "« Famille Durand ».")
    email: str | None = Field(default=None, description="The household's email address (also its "
                                                        "login), if any. — Adresse e-mail du "
                                                        "foyer (aussi son identifiant), si elle "
                                                        "existe.")
    children: list[ChildFacts] = Field(default=[], description="Children known at creation. — "
                                                               "Enfants connus à la création.")
    guardians: list[GuardianFacts] = Field(default=[], description="Guardians known at creation. "
                                                                   "— Responsables légaux connus "
                                                                   "à la création.")
    needs_review: bool = Field(
        default=False, description="True when the household was created by the family itself "
                                   "(online sign-up) and the structure has yet to review it. — "
                                   "Vrai quand le foyer a été créé par la famille elle-même "
                                   "(inscription en ligne) et que la structure doit encore le "
                                   "vérifier.")


class ChildAdded(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    child: ChildFacts = Field(description="The child added. — L'enfant ajouté.")


class ChildUpdated(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    child: ChildFacts = Field(description="The child as it now is (whole state). — L'enfant tel "
                                          "qu'il est désormais (état complet).")


class GuardianAdded(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    guardian: GuardianFacts = Field(description="The guardian added. — Le responsable ajouté.")


class GuardianUpdated(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    guardian: GuardianFacts = Field(description="The guardian as they now are (whole state). — "
                                                "Le responsable tel qu'il est désormais (état "
                                                "complet).")


class ContactDetailsChanged(_Payload):
    """The household's contact details as they now are (whole state, phones in E.164)."""

    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    email: str | None = Field(default=None, description="Email address, if any. — Adresse e-mail, "
                                                        "si elle existe.")
    home_phone: str | None = Field(default=None, description="Home phone in E.164 format, if any. "
                                                             "— Téléphone du domicile au format "
                                                             "E.164, s'il existe.")
    beneficiary_name: str | None = Field(
        default=None, description="Name of the family-benefit beneficiary, if any. — Nom de "
                                  "l'allocataire, s'il existe.")
    beneficiary_scheme: BeneficiaryScheme | None = Field(
        default=None, description="Family-benefit scheme: CAF, MSA or AUTRE, if any. — Régime "
                                  "d'allocations : CAF, MSA ou AUTRE, s'il existe.")
    beneficiary_number: str | None = Field(
        default=None, description="Beneficiary number with that scheme, if any. — Numéro "
                                  "d'allocataire auprès de ce régime, s'il existe.")
    guardians: list[GuardianPhones] = Field(
        default=[], description="Each guardian's phones. — Les téléphones de chaque responsable.")


class FieldChange(_Payload):
    """One contact field's value before and after the requested change. — La valeur d'un champ
    des coordonnées avant et après la modification demandée."""

    before: str | None = Field(default=None, description="Current value (null if empty). — "
                                                         "Valeur actuelle (null si vide).")
    after: str | None = Field(default=None, description="Requested value (null to clear it). — "
                                                        "Valeur demandée (null pour l'effacer).")


class ContactChangeRequested(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    request_id: uuid.UUID = Field(description=_REQUEST_ID)
    changes: dict[str, FieldChange] = Field(
        description="Requested changes by contact field name (e.g. home_phone). — Modifications "
                    "demandées, par nom de champ des coordonnées (ex. home_phone).")


class ContactChangeAccepted(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    request_id: uuid.UUID = Field(description=_REQUEST_ID)
    decided_by: uuid.UUID = Field(description=_DECIDED_BY)


class ContactChangeRefused(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    request_id: uuid.UUID = Field(description=_REQUEST_ID)
    decided_by: uuid.UUID = Field(description=_DECIDED_BY)
    reason: str = Field(description="Why it was refused (shown to the family). — Motif du refus "
                                    "(montré à la famille).")


class EmailChanged(_Payload):
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    old_email: str | None = Field(default=None, description="Previous email address, if any. — "
                                                            "Ancienne adresse e-mail, s'il y en "
                                                            "avait une.")
    new_email: str = Field(description="New email address (also the new login). — Nouvelle "
                                       "adresse e-mail (aussi le nouvel identifiant).")


class SessionsRevoked(_Payload):
    """Sessions of an account were ended (logout, password changed or reset, login email changed,
    staff account disabled, stolen refresh token detected): every service refuses their access
    tokens at once, without waiting for them to expire. — Des sessions d'un compte ont pris fin :
    chaque service refuse aussitôt leurs jetons d'accès, sans attendre leur expiration."""

    account_id: uuid.UUID = Field(description="The account (the tokens' `sub`). — Le compte (le "
                                              "`sub` des jetons).")
    session_id: uuid.UUID | None = Field(
        default=None, description="The one session ended (the tokens' `sid`); absent: every "
                                  "session whose tokens were issued until `revoked_before`. — La "
                                  "session terminée (`sid` des jetons) ; absente : toutes les "
                                  "sessions dont les jetons ont été émis jusqu'à "
                                  "`revoked_before`.")
    revoked_before: datetime = Field(description="Tokens issued (`iat`) at or before this instant "
                                                 "are refused. — Les jetons émis (`iat`) jusqu'à "
                                                 "cet instant sont refusés.")
    reason: str = Field(description="logout, password_changed, password_reset, email_changed, "
                                    "account_disabled, roles_changed, token_reuse. — Motif.")


class FamilyReviewed(_Payload):
    """Staff checked a household created by sign-up (« à vérifier »): the services may now
    accept its requests. — Le personnel a vérifié un foyer créé par une inscription en ligne : les
    services peuvent accepter ses demandes."""

    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    reviewed_by: uuid.UUID | None = Field(default=None, description="The staff member. — "
                                                                    "L'agent.")


class HouseholdAnonymised(_Payload):
    """Staff accepted the household's deletion request (GDPR right to erasure): identity replaced
    its names by « Anonyme », reduced birth dates to 1 January of their year and erased contact
    details. Every copy does the same; what accounting law requires (registrations, reservations,
    invoices, payments, amounts, numbers, dates) stays, detached from the person. — Le personnel a
    accepté la demande d'effacement du foyer (RGPD) : identity a remplacé ses noms par
    « Anonyme », réduit les dates de naissance au 1er janvier de leur année et effacé les
    coordonnées. Chaque copie fait de même ; ce que la comptabilité exige reste, détaché de la
    personne."""

    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    name: str = Field(default="Anonyme", description="The household's name from now on. — Le nom "
                                                     "du foyer désormais.")
    children: list[ChildFacts] = Field(
        default=[], description="Every child as it now is (anonymised). — Chaque enfant tel "
                                "qu'il est désormais (anonymisé).")
    guardian_ids: list[uuid.UUID] = Field(
        default=[], description="Ids of the household's guardians (anonymised too). — "
                                "Identifiants des responsables du foyer (anonymisés eux aussi).")
    anonymised_at: datetime = Field(description="When it was done. — Date de l'anonymisation.")
