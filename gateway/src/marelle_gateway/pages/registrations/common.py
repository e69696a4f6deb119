"""What the registration pages share: enrolment calls on behalf of the logged-in parent."""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterator
from contextlib import contextmanager
from datetime import date, datetime

from fastapi import HTTPException, Request

from marelle_gateway.enrolment import EnrolmentClient
from marelle_gateway.enrolment_models import Attestation, Registration
from marelle_gateway.i18n import DISPLAY_TZ
from marelle_gateway.session import LoginRequired, Session, end_session
from marelle_gateway.upstream import UpstreamProblem

# The guide's sub-menu of a registration, in its order: (id, path after the registration's).
# Labels: `registration.menu.<id>`.
REGISTRATION_MENU = (
    ("reservations", "/reservations"),
    ("liste_attente", "/liste-attente"),
    ("navettes", "/navettes"),
    ("informations", ""),
    ("attestation", "/attestation"),
)


def enrolment_of(request: Request) -> EnrolmentClient:
    return request.app.state.upstreams.enrolment


def today() -> date:
    # « En cours » is judged on the municipality's calendar, whatever the server's.
    return datetime.now(DISPLAY_TZ).date()


def checked_id(value: str) -> str:
    """A path id that can only be a UUID: anything else is a 404 without asking enrolment."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPException(404) from None


# `keep=` of a form handler that shows every refusal of enrolment on the form itself.
ANY_PROBLEM = range(400, 500)


@contextmanager
def page_errors(request: Request, *, keep: Container[int] = ()) -> Iterator[None]:
    """enrolment's 401 → log in again; a 4xx in `keep` is left to the handler (to show
    enrolment's sentence); any other → the French error page of that status (404 for anything
    outside the token's family)."""
    try:
        yield
    except UpstreamProblem as problem:
        if problem.status == 401:
            # Revoked or expired between our check and enrolment's: log in again.
            end_session(request)
            raise LoginRequired(request) from None
        if problem.status in keep:
            raise
        raise HTTPException(problem.status) from None


async def load_attestations(request: Request, session: Session,
                            registration_id: str) -> list[Attestation]:
    """The family's attestations of one registration (enrolment lists the family's)."""
    with page_errors(request):
        attestations = await enrolment_of(request).attestations(session.family_id,
                                                                session.access_token)
    return [a for a in attestations if str(a.registration_id) == registration_id]


async def load_registration(request: Request, session: Session,
                            registration_id: str) -> Registration:
    registration_id = checked_id(registration_id)
    with page_errors(request):
        return await enrolment_of(request).registration(session.family_id, registration_id,
                                                        session.access_token)
