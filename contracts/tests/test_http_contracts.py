"""The services' HTTP bodies (`marelle_contracts.http`): their limits, and the OpenAPI check."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http.conformance import check_answer, check_model, check_request, find_route

ID = str(uuid.uuid4())


@pytest.mark.parametrize("model,data", [
    (E.RegistrationRequestIn, {"child_id": ID, "group_id": ID, "memo": "x" * 2001}),
    (E.RegistrationRequestIn, {"child_id": ID, "group_id": ID,
                               "typical_week": [{"weekday": 0}]}),
    (E.RegistrationRequestIn, {"child_id": ID, "group_id": ID, "duplicate_for": [ID] * 11}),
    (E.RegistrationRequestIn, {"child_id": ID, "group_id": ID, "family_id": ID}),
    (E.GroupIn, {"label": "6-8 ans", "min_age": 6, "max_age": 26, "capacity": 10}),
    (E.NameIn, {"name": "x" * 121}),
    (E.PeriodIn, {"label": "Automne", "start_date": "2026-10-20", "end_date": "2026-11-03",
                  "opens_at": "2026-09-01T08:00:00", "closes_at": "2026-10-01T08:00:00+02:00"}),
    (I.ChildIn, {"first_name": "x" * 101, "last_name": "Martin", "birth_date": "2016-03-01"}),
    (I.RefreshIn, {"refresh_token": "court"}),
    (I.ContactChangeIn, {"home_phone": "0" * 31}),
    (I.DecisionsIn, {"decisions": []}),
])
def test_requests_carry_the_services_limits(model, data):
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_answers_ignore_fields_added_later():
    family = I.Family.model_validate({"id": ID, "name": "Martin", "nouveau": 1})
    assert family.persons == [] and "nouveau" not in family.model_dump()


def test_reading_helpers():
    reg = E.Registration(id=ID, child_id=ID, status="liste_attente", mark="?",
                         activity_name="AUTOMNE", period_label="Automne 2026",
                         start_date="2026-10-20", end_date="2026-11-03")
    assert reg.label == "AUTOMNE - Automne 2026" and reg.cancellable and not reg.validated
    assert reg.mark_key == "pending" and E.Registration(**{**reg.model_dump(),
                                                           "status": "x"}).status_key == "other"
    family = I.Family(id=ID, name="M", persons=[
        I.Person(id=ID, role="child", first_name="Léa", last_name="Martin")])
    assert family.person(ID, "child").full_name == "Léa Martin"
    assert family.person(uuid.UUID(ID), "guardian") is None
    contact = I.Contact(home_phone="+33123456789", home_phone_display="01 23 45 67 89")
    assert contact.display("home_phone") == "01 23 45 67 89"


def _spec() -> dict:
    app = FastAPI()

    @app.get("/families/{family_id}", response_model=I.Family)
    async def family(family_id: uuid.UUID) -> dict:  # pragma: no cover (never called)
        return {}

    @app.get("/families/new", response_model=I.Person)
    async def new() -> dict:  # pragma: no cover
        return {}

    @app.post("/families/{family_id}/registrations", status_code=201)
    async def untyped(family_id: uuid.UUID, body: E.RegistrationRequestIn) -> dict:  # pragma: no cover
        return {}

    return app.openapi()


def test_routes_are_found_literal_first():
    spec = _spec()
    assert find_route(spec, "GET", f"/families/{ID}") == "/families/{family_id}"
    assert find_route(spec, "GET", "/families/new") == "/families/new"
    assert find_route(spec, "DELETE", f"/families/{ID}") is None
    assert find_route(spec, "GET", f"/families/{ID}/photos") is None


def test_answers_are_checked_strictly_against_the_document():
    spec = _spec()
    good = I.Family(id=ID, name="Martin").model_dump(mode="json")
    check = check_answer(spec, "GET", f"/families/{ID}", 200, good)
    assert check.errors == [] and check.declared_model == "Family" and check.typed
    assert check_answer(spec, "GET", f"/families/{ID}", 200, {**good, "en_trop": 1}).errors
    assert check_answer(spec, "GET", f"/families/{ID}", 200, {"id": ID}).errors
    assert check_answer(spec, "GET", f"/families/{ID}", 201, good).errors  # undeclared status
    untyped = check_answer(spec, "POST", f"/families/{ID}/registrations", 201, {"a": 1})
    assert untyped.errors == [] and not untyped.typed
    assert check_model(I.Family, good) == []
    assert check_model(I.Family, {**good, "en_trop": 1})


def test_requests_are_checked_against_the_document():
    spec = _spec()
    path = f"/families/{ID}/registrations"
    assert check_request(spec, "POST", path, {"child_id": ID, "group_id": ID}) == []
    assert check_request(spec, "POST", path, {"child_id": ID, "group_id": ID,
                                              "memo": "x" * 2001})
