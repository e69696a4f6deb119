"""identity's HTTP bodies (`services/identity/API.md`): accounts, household, contact details,
contact-change requests, staff endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from marelle_contracts.dashboard import RequestItem, RequestItems
from marelle_contracts.http._base import (
    Answer,
    Created,
    EmailAddress,
    FreeText,
    Name,
    SingleLine,
    Strict,
)
from marelle_contracts.identity import Sex

__all__ = [
    "AccountState", "AuditEntry", "AuditLog", "ChangePasswordIn", "ChildIn", "Contact",
    "ContactChangeIn", "ContactChangeRequest", "ContactChangeRequests", "Created", "Decision",
    "DecisionResult", "DecisionResults", "DecisionsIn", "Email", "EmailIn", "Family",
    "FamilyCreated", "FamilySummaries", "FamilySummary", "GuardianContact", "GuardianIn",
    "GuardianPhonesIn", "Items", "LoginIn", "Name", "OneTimeTokenIn", "OneTimeTokenOut",
    "Password", "PendingContactChange", "PendingContactChanges", "Person", "Phone",
    "ProvisionalFamilyCreated", "ProvisionalFamilyIn", "RefreshIn", "RequestItem",
    "RequestItems", "SetPasswordIn", "Sex", "SignupIn", "StaffAccount", "StaffAccountIn",
    "StaffAccounts", "StaffFamilyDetail", "StaffFamilyIn", "Strict", "Token", "TokensOut",
    "LogoutIn", "StaffPasswordIn", "StaffRolesIn", "StaffAccountOut", "StaffAccountsOut", "SignupAccepted", "SignupConfirmIn", "StaffLoginIn", "TotpCodeIn", "TotpSetupOut", "TotpStatusOut", "TotpCode",
    "DeletionDecisionIn", "DeletionRequest", "DeletionRequestIn", "DeletionRequests",
    "ExportAccount", "ExportChangeRequest", "ExportHousehold", "ExportPerson", "ExportSession",
    "FamilyExport", "HouseholdRead", "HouseholdReads", "PendingDeletionRequest",
    "PendingDeletionRequests",
]

Email = EmailAddress
Password = Annotated[str, Field(min_length=1, max_length=200)]
Token = Annotated[str, Field(min_length=10, max_length=200), SingleLine]
Phone = Annotated[str | None, Field(max_length=30), SingleLine]
RequestStatus = Literal["en_attente", "acceptee", "refusee"]


# --- accounts -----------------------------------------------------------------------------------

class LoginIn(Strict):
    email: Email
    password: Password


class TokensOut(Answer):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    expires_in: int


class RefreshIn(Strict):
    refresh_token: Token


class EmailIn(Strict):
    email: Email


class OneTimeTokenIn(Strict):
    token: Token
    purpose: Literal["reset", "invitation"]


class OneTimeTokenOut(Answer):
    email: str
    purpose: Literal["reset", "invitation"]


class SetPasswordIn(Strict):
    token: Token
    password: Password


class ChangePasswordIn(Strict):
    current_password: Password
    new_password: Password


# --- household ----------------------------------------------------------------------------------

class GuardianIn(Strict):
    first_name: Name
    last_name: Name
    birth_date: date | None = None
    sex: Sex | None = None


class ChildIn(Strict):
    first_name: Name
    last_name: Name
    birth_date: date
    sex: Sex | None = None


class SignupIn(Strict):
    family_name: Name
    email: Email
    password: Password
    guardian: GuardianIn


class FamilyCreated(Answer):
    family_id: uuid.UUID


class ProvisionalFamilyIn(Answer):
    """The skeleton's sign-up (unknown top-level fields are ignored, as they always were)."""

    name: Name
    email: Email | None = None
    child: ChildIn


class ProvisionalFamilyCreated(Answer):
    family_id: uuid.UUID
    child_id: uuid.UUID


class Person(Answer):
    id: uuid.UUID
    role: Literal["guardian", "child"]
    rank: int | None = None
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Sex | None = None
    age: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Family(Answer):
    id: uuid.UUID
    name: str
    email: str | None = None
    needs_review: bool = False
    persons: list[Person] = []

    @property
    def guardians(self) -> list[Person]:
        return [p for p in self.persons if p.role == "guardian"]

    @property
    def children(self) -> list[Person]:
        return [p for p in self.persons if p.role == "child"]

    def person(self, person_id: str | uuid.UUID, role: str) -> Person | None:
        return next((p for p in self.persons
                     if str(p.id) == str(person_id) and p.role == role), None)


# --- contact details and their change requests -------------------------------------------------

class GuardianPhonesIn(Strict):
    person_id: uuid.UUID
    mobile_phone: Phone = None
    work_phone: Phone = None


class ContactChangeIn(Strict):
    """Only the fields sent are changed (absent = unchanged, "" = cleared)."""

    home_phone: Phone = None
    guardian_phones: Annotated[list[GuardianPhonesIn] | None, Field(max_length=10)] = None
    beneficiary_name: Annotated[str | None, Field(max_length=100), SingleLine] = None
    beneficiary_scheme: Annotated[str | None, Field(max_length=10), SingleLine] = None
    beneficiary_number: Annotated[str | None, Field(max_length=30), SingleLine] = None

    def proposal(self) -> dict[str, Any]:
        """Only the fields the family sent (absent = unchanged, "" = cleared)."""
        data = self.model_dump(exclude_unset=True)
        if "guardian_phones" in data:
            data["guardian_phones"] = [g.model_dump(exclude_unset=True)
                                       for g in self.guardian_phones or []]
        return data


class ContactChangeRequest(Answer):
    id: uuid.UUID
    status: RequestStatus
    # field -> {"before", "after", "label", "before_display", "after_display"}
    changes: dict[str, dict[str, Any]] = {}
    reason: str | None = None
    created_at: datetime
    decided_at: datetime | None = None


class ContactChangeRequests(Answer):
    items: list[ContactChangeRequest]


class _Displayed(Answer):
    def display(self, name: str) -> str | None:
        """A phone in its national form when identity gives it (`<name>_display`)."""
        return getattr(self, f"{name}_display", None) or getattr(self, name)


class GuardianContact(_Displayed):
    person_id: uuid.UUID
    rank: int
    first_name: str = ""
    last_name: str = ""
    mobile_phone: str | None = None
    mobile_phone_display: str | None = None
    work_phone: str | None = None
    work_phone_display: str | None = None


class Contact(_Displayed):
    email: str | None = None
    home_phone: str | None = None
    home_phone_display: str | None = None
    beneficiary_name: str | None = None
    beneficiary_scheme: Literal["CAF", "MSA", "AUTRE"] | None = None
    beneficiary_number: str | None = None
    guardians: list[GuardianContact] = []
    pending_request: ContactChangeRequest | None = None

    def guardian(self, rank: int) -> GuardianContact | None:
        return next((g for g in self.guardians if g.rank == rank), None)


# --- staff --------------------------------------------------------------------------------------

class Items(Answer):
    """A list whose items are described by the endpoint's documentation."""

    items: list[dict[str, Any]]


class FamilySummary(Answer):
    id: uuid.UUID
    name: str
    email: str | None = None
    needs_review: bool = False
    children: list[str] = []
    created_at: datetime | None = None


class FamilySummaries(Answer):
    items: list[FamilySummary]


class AccountState(Answer):
    status: Literal["invitee", "active", "aucun"]
    activated_at: datetime | None = None


class HouseholdRead(Answer):
    """A staff member read the household's file (GDPR: who saw a family's data). — Un agent a
    consulté le dossier du foyer."""

    at: datetime = Field(description="When. — Quand.")
    staff_id: uuid.UUID | None = Field(default=None, description="The staff member. — L'agent.")
    staff_email: str = Field(description="The staff member's login. — L'identifiant de l'agent.")
    what: str = Field(description="What was read (e.g. fiche_foyer). — Ce qui a été consulté "
                                  "(ex. fiche_foyer).")


class HouseholdReads(Answer):
    items: list[HouseholdRead] = Field(description="Most recent first. — Les plus récentes "
                                                   "d'abord.")


class StaffFamilyDetail(Answer):
    family: Family
    contact: Contact
    requests: list[ContactChangeRequest] = []
    account: AccountState
    reads: list[HouseholdRead] = Field(
        default=[], description="The latest staff reads of this file, this one included. — Les "
                                "dernières consultations du dossier par le personnel, celle-ci "
                                "comprise.")
    anonymised_at: datetime | None = Field(
        default=None, description="When the household was anonymised (deletion request "
                                  "accepted), if it was. — Date d'anonymisation du foyer, le cas "
                                  "échéant.")


class PendingContactChange(ContactChangeRequest):
    family_id: uuid.UUID
    family_name: str = ""


class PendingContactChanges(Answer):
    items: list[PendingContactChange]


class Decision(Strict):
    request_id: uuid.UUID
    decision: Literal["accept", "refuse"]
    reason: FreeText(1000) | None = None  # type: ignore[valid-type]


class DecisionsIn(Strict):
    decisions: Annotated[list[Decision], Field(min_length=1, max_length=200)]


class DecisionResult(Answer):
    request_id: uuid.UUID
    ok: bool
    detail: str = ""


class DecisionResults(Answer):
    results: list[DecisionResult]


class StaffFamilyIn(Strict):
    name: Name
    email: Email
    guardian: GuardianIn
    children: Annotated[list[ChildIn], Field(max_length=12)] = []


class AuditEntry(Answer):
    at: datetime
    staff_id: uuid.UUID | None = None
    staff_email: str | None = None
    action: str
    target: str | None = None
    details: dict[str, Any] | None = None


class AuditLog(Answer):
    items: list[AuditEntry]


class StaffAccountIn(Strict):
    email: Email
    display_name: Name
    password: Password
    roles: Annotated[list[Literal["administrator", "manager"]], Field(max_length=2)]


class StaffAccount(Answer):
    id: uuid.UUID
    email: str
    display_name: str
    roles: list[str] = []


class StaffAccounts(Answer):
    items: list[StaffAccount]


# Bodies of the endpoints added for issue #11 (sessions, staff accounts, sign-up, TOTP).




class LogoutIn(Strict):
    """The portal and the apps send their refresh token; the back-office its access token
    (Authorization header) and no body."""

    refresh_token: Token | None = None


class StaffPasswordIn(Strict):
    """A staff member's password change without a session (one-time password at first login)."""

    email: Email
    current_password: Password
    new_password: Password


class StaffRolesIn(Strict):
    roles: Annotated[list[Literal["administrator", "manager"]], Field(min_length=1, max_length=2)]


class StaffAccountOut(StaffAccount):
    disabled: bool = False
    must_change_password: bool = False


class StaffAccountsOut(Answer):
    items: list[StaffAccountOut]


# The sign-up (issue #11): one answer whatever the address, and its confirmation link.
class SignupAccepted(Answer):
    message: str


class SignupConfirmIn(Strict):
    token: Token


# The staff's second factor (issue #11).
TotpCode = Annotated[str, Field(min_length=6, max_length=8, pattern=r"^[0-9 ]+$")]


class StaffLoginIn(Strict):
    """A staff login: the code of the authenticator application once TOTP is enrolled."""

    email: Email
    password: Password
    totp_code: TotpCode | None = None


class TotpCodeIn(Strict):
    code: TotpCode


class TotpSetupOut(Answer):
    secret: str
    otpauth_uri: str


class TotpStatusOut(Answer):
    enabled: bool
    pending: bool
    required: bool


# GDPR (issue #11): the family's export, deletion requests, staff reads of a household.
DeletionStatus = Literal["en_attente", "acceptee", "refusee"]


class ExportPerson(Answer):
    id: uuid.UUID = Field(description="Person id. — Identifiant de la personne.")
    role: Literal["guardian", "child"] = Field(description="guardian or child. — Responsable ou "
                                                           "enfant.")
    rank: int | None = Field(default=None, description="Guardian's rank (1 or 2). — Rang du "
                                                       "responsable (1 ou 2).")
    first_name: str = Field(description="First name. — Prénom.")
    last_name: str = Field(description="Last name. — Nom.")
    birth_date: date | None = Field(default=None, description="Date of birth. — Date de "
                                                              "naissance.")
    sex: Sex | None = Field(default=None, description="Sex (F or M). — Sexe (F ou M).")
    mobile_phone: str | None = Field(default=None, description="Mobile phone (E.164). — Portable.")
    work_phone: str | None = Field(default=None, description="Work phone (E.164). — Téléphone "
                                                             "professionnel.")
    created_at: datetime = Field(description="Recorded on. — Enregistré le.")
    updated_at: datetime = Field(description="Last changed on. — Modifié le.")


class ExportHousehold(Answer):
    id: uuid.UUID = Field(description="Household id. — Identifiant du foyer.")
    name: str = Field(description="Household name. — Nom du foyer.")
    email: str | None = Field(default=None, description="Email address. — Adresse e-mail.")
    home_phone: str | None = Field(default=None, description="Home phone (E.164). — Téléphone "
                                                             "du domicile.")
    beneficiary_name: str | None = Field(default=None, description="Family-benefit beneficiary. "
                                                                   "— Allocataire.")
    beneficiary_scheme: str | None = Field(default=None, description="CAF, MSA or AUTRE. — "
                                                                     "Régime.")
    beneficiary_number: str | None = Field(default=None, description="Beneficiary number. — "
                                                                     "Numéro d'allocataire.")
    needs_review: bool = Field(description="Still to be checked by staff. — À vérifier par la "
                                           "structure.")
    created_at: datetime = Field(description="Created on. — Créé le.")


class ExportAccount(Answer):
    email: str = Field(description="Login email. — Adresse de connexion.")
    role: str = Field(description="The account's role (famille). — Rôle du compte (famille).")
    status: str = Field(description="invited, pending, active or disabled. — État du compte.")
    created_at: datetime = Field(description="Created on. — Créé le.")
    activated_at: datetime | None = Field(default=None, description="Activated on. — Activé le.")


class ExportSession(Answer):
    """A login's dates only: never its tokens. — Les dates d'une connexion, jamais ses jetons."""

    started_at: datetime = Field(description="Login. — Connexion.")
    last_renewed_at: datetime = Field(description="Last renewal. — Dernier renouvellement.")
    expires_at: datetime = Field(description="Expiry. — Expiration.")
    ended: bool = Field(description="Ended (logout, revoked or expired). — Terminée.")


class ExportChangeRequest(Answer):
    kind: Literal["coordonnees", "suppression"] = Field(
        description="Contact-details change or deletion request. — Modification des "
                    "coordonnées ou demande de suppression.")
    status: DeletionStatus = Field(description="Status. — État.")
    created_at: datetime = Field(description="Sent on. — Envoyée le.")
    decided_at: datetime | None = Field(default=None, description="Decided on. — Traitée le.")
    reason: str | None = Field(default=None, description="The family's or staff's reason. — "
                                                         "Motif.")
    changes: dict[str, Any] = Field(default={}, description="Requested changes (before/after). "
                                                            "— Modifications demandées.")


class FamilyExport(Answer):
    """Everything identity holds on the household (GDPR right of access); no password hash,
    token or secret. — Tout ce qu'identity détient sur le foyer ; aucun mot de passe haché,
    jeton ni secret."""

    exported_at: datetime = Field(description="When the export was made. — Date de l'export.")
    household: ExportHousehold = Field(description="The household. — Le foyer.")
    persons: list[ExportPerson] = Field(description="Guardians and children. — Responsables et "
                                                    "enfants.")
    accounts: list[ExportAccount] = Field(description="Login accounts. — Comptes de connexion.")
    requests: list[ExportChangeRequest] = Field(description="Requests to the structure. — "
                                                            "Demandes à la structure.")
    sessions: list[ExportSession] = Field(description="Logins (dates only). — Connexions "
                                                      "(dates seulement).")


class DeletionRequestIn(Strict):
    reason: FreeText(1000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Why (optional). — Motif (facultatif).")


class DeletionRequest(Answer):
    id: uuid.UUID = Field(description="Request id. — Identifiant de la demande.")
    family_id: uuid.UUID = Field(description="Household id. — Identifiant du foyer.")
    status: DeletionStatus = Field(description="Status. — État.")
    reason: str | None = Field(default=None, description="The family's reason. — Motif de la "
                                                         "famille.")
    created_at: datetime = Field(description="Sent on. — Envoyée le.")
    decided_at: datetime | None = Field(default=None, description="Decided on. — Traitée le.")
    decision_reason: str | None = Field(default=None, description="Staff's reason. — Motif du "
                                                                  "personnel.")


class DeletionRequests(Answer):
    items: list[DeletionRequest] = Field(description="Most recent first. — Les plus récentes "
                                                     "d'abord.")


class PendingDeletionRequest(DeletionRequest):
    family_name: str = Field(default="", description="Household name. — Nom du foyer.")


class PendingDeletionRequests(Answer):
    items: list[PendingDeletionRequest] = Field(description="Oldest first. — Les plus anciennes "
                                                            "d'abord.")


class DeletionDecisionIn(Strict):
    decision: Literal["accept", "refuse"] = Field(description="accept or refuse. — Accepter ou "
                                                              "refuser.")
    reason: FreeText(1000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Reason, required to refuse (shown to the family). — Motif, "
                                  "obligatoire pour refuser (montré à la famille).")
