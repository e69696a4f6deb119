"""The schools' class assignments (inbound topic marelle.inbound.schools.v1): kept per child and
school year, a later assignment winning; listed per class with the children's registrations and
the age-group checks staff act on."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import event, func, select

from marelle_chassis.messaging_tables import inbox_table
from marelle_contracts import Envelope, new_envelope
from marelle_contracts.identity import ChildFacts, ChildUpdated
from marelle_contracts.inbound import ChildAssignedToClass
from marelle_enrolment import handlers, schools
from marelle_enrolment.db import metadata, school_assignment
from tests.support import tokens

YEAR = "2026-2027"
PASTEUR, FERRY = "0750001A", "0750002B"
START = date(2026, 10, 21)  # the autumn holidays of the school year


def assignment(child_id: uuid.UUID, class_name: str = "CP A", *, level: str = "CP",
               assigned_on: date = date(2026, 7, 1), school_id: str = PASTEUR,
               school_name: str = "École Pasteur", school_year: str = YEAR) -> Envelope:
    return new_envelope(ChildAssignedToClass(
        child_id=child_id, school_year=school_year, school_id=school_id, school_name=school_name,
        class_name=class_name, level=level, assigned_on=assigned_on), producer="ecoles")


async def deliver(enrolment, envelope: Envelope) -> None:
    """As the consumer does once the chassis has read the message."""
    await schools.schools_events(enrolment.app.state.runtime)(envelope)


async def stored(enrolment, child_id: uuid.UUID, school_year: str = YEAR):
    async with enrolment.app.state.runtime.uow() as uow:
        return (await uow.session.execute(select(school_assignment).where(
            school_assignment.c.child_id == child_id,
            school_assignment.c.school_year == school_year))).one_or_none()


async def test_a_later_assignment_replaces_an_earlier_one_never_the_reverse(enrolment):
    child = uuid.uuid4()
    first = assignment(child, "CP A", assigned_on=date(2026, 7, 1))
    await deliver(enrolment, first)
    row = await stored(enrolment, child)
    assert (row.school_id, row.school_name, row.class_name, row.level, row.assigned_on,
            row.source_event_id) == (PASTEUR, "École Pasteur", "CP A", "CP", date(2026, 7, 1),
                                     first.event_id)

    later = assignment(child, "CP B", assigned_on=date(2026, 9, 5))
    await deliver(enrolment, later)
    assert (await stored(enrolment, child)).class_name == "CP B"

    # A late message about an earlier assignment (reordered, or replayed by the schools' system).
    await deliver(enrolment, assignment(child, "CP C", assigned_on=date(2026, 8, 1)))
    row = await stored(enrolment, child)
    assert (row.class_name, row.assigned_on, row.source_event_id) == (
        "CP B", date(2026, 9, 5), later.event_id)

    # The same day, a different class: a correction, applied.
    fix = assignment(child, "CP A", assigned_on=date(2026, 9, 5))
    await deliver(enrolment, fix)
    row = await stored(enrolment, child)
    assert (row.class_name, row.source_event_id) == ("CP A", fix.event_id)

    # The same fact sent again under a new id changes nothing.
    await deliver(enrolment, assignment(child, "CP A", assigned_on=date(2026, 9, 5)))
    assert (await stored(enrolment, child)).source_event_id == fix.event_id

    # Another school year is another row.
    await deliver(enrolment, assignment(child, "GS B", level="GS", school_year="2025-2026",
                                        assigned_on=date(2025, 7, 1)))
    assert (await stored(enrolment, child)).class_name == "CP A"
    assert (await stored(enrolment, child, "2025-2026")).class_name == "GS B"


async def test_a_redelivered_event_is_applied_once(enrolment):
    child = uuid.uuid4()
    same_day = date(2026, 9, 5)
    x = assignment(child, "CP A", assigned_on=same_day)
    y = assignment(child, "CP B", assigned_on=same_day)  # a same-day correction of x
    await deliver(enrolment, x)
    await deliver(enrolment, y)
    # Kafka delivers x again (e.g. the consumer stopped before committing its offset): were it
    # applied again, it would be a "correction" of y and bring CP A back.
    await deliver(enrolment, x)
    row = await stored(enrolment, child)
    assert (row.class_name, row.source_event_id) == ("CP B", y.event_id)
    async with enrolment.app.state.runtime.uow() as uow:
        inbox = inbox_table(metadata)
        claimed = await uow.session.scalar(select(func.count()).select_from(inbox).where(
            inbox.c.consumer == schools.CONSUMER))
    assert claimed == 2


async def test_an_invalid_assignment_is_refused_before_the_handler(enrolment):
    child = uuid.uuid4()
    good = assignment(child)
    bad = good.model_copy(update={"event_id": uuid.uuid4(),
                                  "payload": {**good.payload, "level": "6EME"}})
    # The consumer parks what raises ValidationError in the topic's DLQ.
    with pytest.raises(ValidationError):
        await deliver(enrolment, bad)
    assert await stored(enrolment, child) is None


async def test_a_child_unknown_to_enrolment_is_kept_until_its_family_arrives(enrolment):
    child = uuid.uuid4()
    await deliver(enrolment, assignment(child, "CP A"))
    r = await enrolment.client.get("/staff/classes/children", headers=enrolment.staff,
                                   params={"school_year": YEAR, "school_id": PASTEUR,
                                           "class_name": "CP A"})
    assert r.status_code == 200, r.text
    [only] = r.json()["children"]
    assert only == {"child_id": str(child), "known": False, "family_id": None,
                    "first_name": None, "last_name": None, "birth_date": None, "age": None,
                    "level": "CP", "assigned_on": "2026-07-01", "registrations": []}


@contextmanager
def statements(enrolment):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = enrolment.app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_classes_and_a_class_children_with_their_age_group_checks(enrolment):
    ids = await enrolment.catalogue(start=START, min_age=6, max_age=8)
    r = await enrolment.post("/staff/groups", {"period_id": str(ids["period"]),
                                               "label": "3-5 ans", "min_age": 3, "max_age": 5,
                                               "capacity": 12})
    little = r.json()["id"]
    martin = await enrolment.family("Martin", {
        "Léa": date(2020, 3, 10), "Hugo": date(2020, 11, 20), "Zoé": date(2020, 2, 1)})
    assert (await enrolment.request(martin, "Léa", ids["group"])).status_code == 201
    assert (await enrolment.request(martin, "Hugo", little)).status_code == 201
    assert (await enrolment.request(martin, "Zoé", ids["group"])).status_code == 201
    # Identity corrects Zoé's birth date after her registration: a year younger.
    zoe = martin.children["Zoé"]
    await handlers.identity_events(enrolment.app.state.runtime)(new_envelope(ChildUpdated(
        family_id=martin.id, child=ChildFacts(child_id=zoe, first_name="Zoé", last_name="Martin",
                                              birth_date=date(2021, 2, 1))),
        producer="identity", version=2))
    # Léa's other registrations: cancelled, and on a period of the next school year: not shown.
    later = await enrolment.catalogue(start=date(2027, 9, 15))
    assert (await enrolment.request(martin, "Léa", later["group"])).status_code == 201
    other = await enrolment.catalogue(start=START + timedelta(days=60))
    r = await enrolment.request(martin, "Léa", other["group"])
    cancelled = r.json()["results"][0]["registration"]["id"]
    r = await enrolment.client.post(f"/families/{martin.id}/registrations/{cancelled}/cancel",
                                    headers=martin.headers)
    assert r.status_code == 204, r.text

    unknown = uuid.uuid4()
    for child in (martin.children["Léa"], martin.children["Hugo"], zoe, unknown):
        await deliver(enrolment, assignment(child, "CP A"))
    dubois = await enrolment.family("Dubois", {"Noé": date(2019, 4, 2), "Inès": date(2018, 6, 3)})
    await deliver(enrolment, assignment(dubois.children["Noé"], "CE1-CE2", level="CE1"))
    await deliver(enrolment, assignment(dubois.children["Inès"], "CE1-CE2", level="CE2"))
    await deliver(enrolment, assignment(uuid.uuid4(), "CP A", school_id=FERRY,
                                        school_name="École Jules Ferry"))
    # Léa's class of the year before.
    await deliver(enrolment, assignment(martin.children["Léa"], "GS B", level="GS",
                                        school_year="2025-2026", assigned_on=date(2025, 7, 1)))

    r = await enrolment.client.get("/staff/classes", headers=enrolment.staff,
                                   params={"school_year": YEAR})
    assert r.status_code == 200, r.text
    assert r.json() == {"school_year": YEAR, "items": [
        {"school_id": FERRY, "school_name": "École Jules Ferry", "class_name": "CP A",
         "levels": ["CP"], "children": 1},
        {"school_id": PASTEUR, "school_name": "École Pasteur", "class_name": "CE1-CE2",
         "levels": ["CE1", "CE2"], "children": 2},
        {"school_id": PASTEUR, "school_name": "École Pasteur", "class_name": "CP A",
         "levels": ["CP"], "children": 4},
    ]}

    params = {"school_year": YEAR, "school_id": PASTEUR, "class_name": "CP A"}
    with statements(enrolment) as seen:
        r = await enrolment.client.get("/staff/classes/children", headers=enrolment.staff,
                                       params=params)
    assert r.status_code == 200, r.text
    assert len(seen) == 2  # the children, then all their registrations
    body = r.json()
    assert {k: body[k] for k in ("school_year", "school_id", "school_name", "class_name",
                                 "levels")} == {
        "school_year": YEAR, "school_id": PASTEUR, "school_name": "École Pasteur",
        "class_name": "CP A", "levels": ["CP"]}
    children = {c["first_name"]: c for c in body["children"]}
    assert [c["first_name"] for c in body["children"]] == ["Hugo", "Léa", "Zoé", None]
    assert {n: (c["age"], c["birth_date"], c["level"]) for n, c in children.items()} == {
        "Hugo": (5, "2020-11-20", "CP"), "Léa": (6, "2020-03-10", "CP"),
        "Zoé": (5, "2021-02-01", "CP"), None: (None, None, "CP")}
    assert children["Léa"]["family_id"] == str(martin.id) and children["Léa"]["known"]

    [lea] = children["Léa"]["registrations"]
    assert (lea["group_label"], lea["period_label"], lea["status"], lea["age_at_start"],
            lea["start_date"], lea["flags"]) == ("6-8 ans Rémond", "Automne 2026", "en_attente",
                                                 6, "2026-10-21", [])
    [hugo] = children["Hugo"]["registrations"]
    assert (hugo["group_label"], hugo["min_age"], hugo["max_age"], hugo["age_at_start"]) == (
        "3-5 ans", 3, 5, 5)
    assert hugo["flags"] == [{"kind": "niveau", "message": (
        "Niveau scolaire et groupe ne concordent pas : le groupe « 3-5 ans » accueille les "
        "enfants de 3 à 5 ans, alors qu'un élève de CP a normalement 6 ans au 31/12/2026.")}]
    [zoe_reg] = children["Zoé"]["registrations"]
    assert zoe_reg["flags"] == [{"kind": "age", "message": (
        "Âge hors du groupe : le groupe « 6-8 ans Rémond » accueille les enfants de 6 à 8 ans "
        "(âge au début de la période, le 21/10/2026) ; Zoé a alors 5 ans.")}]

    # The same two queries for a class of one.
    with statements(enrolment) as seen:
        r = await enrolment.client.get("/staff/classes/children", headers=enrolment.staff,
                                       params={**params, "school_id": FERRY})
    assert r.status_code == 200 and len(r.json()["children"]) == 1 and len(seen) == 2


async def test_class_routes_answer_in_french_and_for_staff_only(enrolment):
    r = await enrolment.client.get("/staff/classes", headers=enrolment.staff,
                                   params={"school_year": "2026-2028"})
    assert r.status_code == 422
    assert "deux années qui se suivent" in r.text
    r = await enrolment.client.get("/staff/classes", headers=enrolment.staff,
                                   params={"school_year": YEAR})
    assert r.json() == {"school_year": YEAR, "items": []}
    r = await enrolment.client.get("/staff/classes/children", headers=enrolment.staff,
                                   params={"school_year": YEAR, "school_id": PASTEUR,
                                           "class_name": "CM2 Z"})
    assert r.status_code == 404 and "« CM2 Z »" in r.json()["detail"]
    family = uuid.uuid4()
    r = await enrolment.client.get("/staff/classes", headers=tokens.parent(family),
                                   params={"school_year": YEAR})
    assert r.status_code == 403
