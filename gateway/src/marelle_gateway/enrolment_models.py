"""enrolment's answers as the pages and the JSON API read them: the contract's models
(`marelle_contracts.http.enrolment`, the service's own `response_model`s), re-exported here
where the pages have always found them. Unknown (newer) fields are ignored."""

from __future__ import annotations

from marelle_contracts.http.enrolment import (  # noqa: F401 (re-exported)
    CANCELLABLE,
    MARKS,
    STATUSES,
    Activity,
    ActivityType,
    Attestation,
    Attestations,
    Facility,
    Group,
    Offer,
    OfferChild,
    Period,
    Registration,
    RegistrationRequestIn,
    RegistrationResult,
    RegistrationResults,
    Registrations,
    TypicalDay,
    WeekdayIn,
)
