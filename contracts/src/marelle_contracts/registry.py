"""Every event type, its payload model, version, topic and key field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, create_model

from marelle_contracts import billing, booking, enrolment, identity, inbound
from marelle_contracts.envelope import Envelope
from marelle_contracts.topics import Topics


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    schema_version: int
    topic: str
    model: type[BaseModel]
    key_field: str
    summary: str


_IDENTITY = [
    ("family_created", identity.FamilyCreated, "A household was created (with its first people)."),
    ("child_added", identity.ChildAdded, "A child was added to a household."),
    ("child_updated", identity.ChildUpdated, "A child's information changed."),
    ("guardian_added", identity.GuardianAdded, "A guardian (parent) was added to a household."),
    ("guardian_updated", identity.GuardianUpdated, "A guardian's information changed."),
    ("contact_details_changed", identity.ContactDetailsChanged,
     "The household's contact details changed (whole new state)."),
    ("contact_change_requested", identity.ContactChangeRequested,
     "A family asked the structure to change its contact details."),
    ("contact_change_accepted", identity.ContactChangeAccepted,
     "Staff accepted a contact-change request (the change follows as contact_details_changed)."),
    ("contact_change_refused", identity.ContactChangeRefused,
     "Staff refused a contact-change request, with a reason."),
    ("family_reviewed", identity.FamilyReviewed,
     "Staff checked a household created by sign-up: its requests may now be accepted."),
    ("email_changed", identity.EmailChanged,
     "Staff changed a household's email address (also its login identifier)."),
    ("household_anonymised", identity.HouseholdAnonymised,
     "A deletion request was accepted: copies erase the household's names and contact details."),
]

EVENTS: dict[str, EventSpec] = {
    f"identity.{name}": EventSpec(f"identity.{name}", 1, Topics.IDENTITY, model, "family_id", summary)
    for name, model, summary in _IDENTITY
}
# Keyed by account (staff accounts have no family).
EVENTS["identity.sessions_revoked"] = EventSpec(
    "identity.sessions_revoked", 1, Topics.IDENTITY, identity.SessionsRevoked, "account_id",
    "Sessions of an account ended: services refuse their access tokens at once.")


_ENROLMENT = [
    ("period_published", enrolment.PeriodPublished, "period_id",
     "A period (with its groups) was added to the catalogue."),
    ("period_changed", enrolment.PeriodChanged, "period_id",
     "A period or one of its groups changed, or was closed (whole new state)."),
    ("registration_requested", enrolment.RegistrationRequested, "child_id",
     "A family asked for a registration (pending staff validation)."),
    ("registration_validated", enrolment.RegistrationValidated, "child_id",
     "A registration was validated: the child may now be booked on the period."),
    ("registration_refused", enrolment.RegistrationRefused, "child_id",
     "A registration was refused by the structure, with a reason."),
    ("registration_waitlisted", enrolment.RegistrationWaitlisted, "child_id",
     "The group was full: the request is on its waiting list."),
    ("registration_promoted", enrolment.RegistrationPromoted, "child_id",
     "A place freed up: the request left the waiting list."),
    ("registration_cancelled", enrolment.RegistrationCancelled, "child_id",
     "A registration was cancelled (by the family or the structure)."),
    ("attestation_issued", enrolment.AttestationIssued, "child_id",
     "An attestation of registration was issued (PDF available to the family)."),
]
EVENTS.update({
    f"enrolment.{name}": EventSpec(f"enrolment.{name}", 1, Topics.ENROLMENT, model, key, summary)
    for name, model, key, summary in _ENROLMENT
})


_BOOKING = [
    ("reservation_confirmed", booking.ReservationConfirmed, "child_id",
     "A child was booked on a day for a unit."),
    ("reservation_waitlisted", booking.ReservationWaitlisted, "child_id",
     "The day was full for that unit: the request is on the day's waiting list."),
    ("reservation_promoted", booking.ReservationPromoted, "child_id",
     "A place freed up: the request left the day's waiting list and is booked."),
    ("reservation_cancelled", booking.ReservationCancelled, "child_id",
     "A reservation (or a waiting request) was cancelled: by whom, when, within the deadline or not."),
    ("shuttle_booked", booking.ShuttleBooked, "child_id",
     "A child was booked on a shuttle line's stop for a day (morning or evening)."),
    ("shuttle_cancelled", booking.ShuttleCancelled, "child_id",
     "A shuttle booking was cancelled."),
    ("attendance_recorded", booking.AttendanceRecorded, "child_id",
     "The roll call recorded a child present, absent (justified or not) or present without booking."),
    ("ticket_decided", booking.TicketDecided, "child_id",
     "A booking ticket of an opening was decided: every day's outcome, for one email."),
    ("roll_call_locked", booking.RollCallLocked, "group_id",
     "A day's roll call of a group was completed and locked."),
]
EVENTS.update({
    f"booking.{name}": EventSpec(f"booking.{name}", 1, Topics.BOOKING, model, key, summary)
    for name, model, key, summary in _BOOKING
})


_BILLING = [
    ("invoice_issued", billing.InvoiceIssued, "family_id",
     "A final invoice was issued to a family (by an invoicing run, or imported)."),
    ("credit_note_issued", billing.CreditNoteIssued, "family_id",
     "A credit note (avoir) was issued to a family, and applied to its open invoices."),
    ("payment_received", billing.PaymentReceived, "family_id",
     "Money was received from a family (card online, cash, cheque, CESU, vouchers, direct debit)."),
    ("invoice_paid", billing.InvoicePaid, "family_id",
     "An invoice's balance reached zero."),
    ("fiscal_attestation_issued", billing.FiscalAttestationIssued, "family_id",
     "A yearly fiscal attestation (childcare costs of children under 6) was issued."),
    ("residency_changed", billing.ResidencyChanged, "family_id",
     "A household's residency in the city or its district was set (profile created) or "
     "changed, by staff."),
]
EVENTS.update({
    f"billing.{name}": EventSpec(f"billing.{name}", 1, Topics.BILLING, model, key, summary)
    for name, model, key, summary in _BILLING
})

# Inbound: written by other municipal systems (their producer name in the envelope).
EVENTS.update({
    "quotient.family_quotient_updated": EventSpec(
        "quotient.family_quotient_updated", 1, Topics.QUOTIENT, inbound.FamilyQuotientUpdated,
        "family_id", "A family's quotient familial from the CAF/MSA data connector (billing "
        "applies it to the family's financial profile)."),
    "schools.child_assigned_to_class": EventSpec(
        "schools.child_assigned_to_class", 1, Topics.SCHOOLS, inbound.ChildAssignedToClass,
        "child_id", "A child's school and class for a school year, from the schools' system "
        "(enrolment keeps it for age-group checks and lists per class)."),
})

class UnknownEventType(LookupError):
    pass


def event_spec(event_type: str) -> EventSpec:
    try:
        return EVENTS[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


_BY_MODEL: dict[type[BaseModel], EventSpec] = {}


def spec_for_model(model: type[BaseModel]) -> EventSpec:
    # Remembered: every event published asks (a scan of the registry per event otherwise).
    spec = _BY_MODEL.get(model)
    if spec is None:
        spec = next((s for s in EVENTS.values() if s.model is model), None)
        if spec is None:
            raise UnknownEventType(model.__name__)
        _BY_MODEL[model] = spec
    return spec


def parse_payload(event_type: str, payload: dict[str, Any]) -> BaseModel:
    return event_spec(event_type).model.model_validate(payload)


_TYPED: dict[str, type[Envelope]] = {}


def typed_envelope(event_type: str | None) -> type[Envelope] | None:
    """`Envelope` with `event_type`'s payload model in place of the dict, or None for a type
    not registered: a consumer validates the record's JSON in ONE pass (the envelope, then its
    payload again from the dict, was a fifth of a consumer's CPU, bench/events.py). The caller
    checks that the envelope's `event_type` is this one (`payload_of` refuses the payload
    otherwise)."""
    if event_type is None:
        return None
    typed = _TYPED.get(event_type)
    if typed is None:
        spec = EVENTS.get(event_type)
        if spec is None:
            return None
        typed = _TYPED[event_type] = create_model(  # type: ignore[call-overload]
            f"{spec.model.__name__}Envelope", __base__=Envelope, payload=(spec.model, ...))
    return typed


def payload_of(envelope: Envelope) -> BaseModel:
    """The envelope's payload as its type's model: already one when the envelope was read with
    `typed_envelope` for its own type, parsed from the dict otherwise."""
    payload: Any = envelope.payload
    if isinstance(payload, dict):
        return parse_payload(envelope.event_type, payload)
    if type(payload) is not event_spec(envelope.event_type).model:
        # Read with another type's model (its other fields are gone): never trusted.
        raise ValueError(f"payload read as {type(payload).__name__} for an envelope of type "
                         f"{envelope.event_type}")
    return payload  # type: ignore[no-any-return]
