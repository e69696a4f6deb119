"""A fake enrolment service (as `services/enrolment/API.md` describes it) and the Martin family.

Installed on a `FakeServices` with `FakeEnrolment(fake)`: it keeps its registrations and
attestations in memory, answers 404 for another family's path or ids, records what it is sent.
The catalogue follows the guide (CENTRE DE LOISIRS ALSH › Mercredi, vacances › AUTOMNE › …).

Every answer is built from the services' own models (`marelle_contracts.http`) and dumped as the
service would send it; `test_contract_fakes.py` checks them against the real OpenAPI documents.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from marelle_contracts.dashboard import RequestItems
from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http import queue as Q

FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
CLAIRE = "11111111-1111-4111-8111-111111111111"
LEA = "22222222-2222-4222-8222-222222222222"
TOM = "33333333-3333-4333-8333-333333333333"
NAMES = {LEA: ("Léa", "Martin"), TOM: ("Tom", "Martin")}

# Ids that read well in assertions.
ALSH, CANTEEN = "f0000000-0000-4000-8000-000000000001", "f0000000-0000-4000-8000-000000000002"
HOLIDAYS, MEALS = "70000000-0000-4000-8000-000000000001", "70000000-0000-4000-8000-000000000002"
AUTUMN, WINTER = "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000002"
CANTINE = "a0000000-0000-4000-8000-000000000003"
AUTUMN_PERIOD, WINTER_PERIOD = ("b0000000-0000-4000-8000-000000000001",
                                "b0000000-0000-4000-8000-000000000002")
MEALS_PERIOD = "b0000000-0000-4000-8000-000000000003"
GROUP_68, GROUP_911 = "c0000000-0000-4000-8000-000000000001", "c0000000-0000-4000-8000-000000000002"
GROUP_WINTER, GROUP_MEALS = ("c0000000-0000-4000-8000-000000000003",
                             "c0000000-0000-4000-8000-000000000004")

YEAR = date.today().year + 1  # always ahead: « en cours » means not ended
MEMO = ("Attention les inscriptions sont a la semaine:\nSem 1 : 20 et 21 octobre\n"
        "Sem 2 : du lundi au vendredi")

# The summer opening: tomorrow 8:30, Léa and Tom fit « 6-8 ans Rémond ».
OPENING = Q.Opening(
    period_id=AUTUMN_PERIOD, facility_name="CENTRE DE LOISIRS ALSH", activity_name="ÉTÉ",
    label=f"Été {YEAR}", start_date=date(YEAR, 7, 6), end_date=date(YEAR, 7, 31),
    opens_at=f"{YEAR}-06-02T06:30:00Z", closes_at=f"{YEAR}-06-30T20:00:00Z", open_now=True,
    groups=[Q.OpeningGroup(group_id=GROUP_68, label="6-8 ans Rémond", min_age=6, max_age=8,
                           capacity=24, child_ids=[LEA, TOM])])

# Registrations of the family, by id.
R_VALID, R_PENDING, R_WAIT = ("d0000000-0000-4000-8000-000000000001",
                              "d0000000-0000-4000-8000-000000000002",
                              "d0000000-0000-4000-8000-000000000003")
R_REFUSED, R_PRE, R_ENDED = ("d0000000-0000-4000-8000-000000000004",
                             "d0000000-0000-4000-8000-000000000005",
                             "d0000000-0000-4000-8000-000000000006")
ISSUED = "e0000000-0000-4000-8000-000000000001"
PDF_BYTES = b"%PDF-1.7\n% attestation de test\n%%EOF\n"


def answer(model: BaseModel) -> dict[str, Any]:
    """A contract model as the service sends it (its `response_model`, dumped to JSON)."""
    return model.model_dump(mode="json")


def person(id, role, first, last, birth=None, sex=None, age=None, rank=None) -> I.Person:
    return I.Person(id=id, role=role, rank=rank, first_name=first, last_name=last,
                    birth_date=birth, sex=sex, age=age)


FAMILY = answer(I.Family(id=FAMILY_ID, name="Martin", email="claire.martin@example.fr",
                         needs_review=False, persons=[
                             person(CLAIRE, "guardian", "Claire", "Martin", rank=1),
                             person(LEA, "child", "Léa", "Martin", "2016-03-01", "F", 8),
                             person(TOM, "child", "Tom", "Martin", "2023-06-30", "M", 1)]))


def group(id, label, capacity, taken, waiting=0) -> E.Group:
    left = max(0, capacity - taken)
    return E.Group(id=id, label=label, min_age=6, max_age=11, capacity=capacity,
                   places_taken=taken, places_left=left, waiting=waiting, full=left == 0,
                   closed=False)


def period(id, label, start, end, groups, memo="") -> E.Period:
    return E.Period(id=id, label=label, start_date=start, end_date=end,
                    opens_at=f"{YEAR - 1}-09-01T06:00:00Z", closes_at=f"{YEAR}-10-10T16:00:00Z",
                    priority_opens_at=None, memo=memo, validation_mode="structure",
                    promotion_mode="automatique", closed=False, groups=groups)


def offer(child_id: str) -> dict[str, Any]:
    first, last = NAMES[child_id]
    return answer(E.Offer(
        child=E.OfferChild(id=child_id, first_name=first, last_name=last,
                           birth_date="2016-03-01", age=8),
        facilities=[
            E.Facility(id=ALSH, name="CENTRE DE LOISIRS ALSH", activity_types=[
                E.ActivityType(id=HOLIDAYS, name="Mercredi, vacances", activities=[
                    E.Activity(id=AUTUMN, name="AUTOMNE", pre_registration=False, periods=[
                        period(AUTUMN_PERIOD, f"Automne {YEAR}", date(YEAR, 10, 20),
                               date(YEAR, 11, 3), [group(GROUP_68, "6-8 ans Rémond", 24, 21),
                                                   group(GROUP_911, "9-11 ans", 12, 12, 3)],
                               MEMO)]),
                    E.Activity(id=WINTER, name="HIVER", pre_registration=False, periods=[
                        period(WINTER_PERIOD, f"Hiver {YEAR + 1}", date(YEAR + 1, 2, 10),
                               date(YEAR + 1, 2, 21),
                               [group(GROUP_WINTER, "6-11 ans", 30, 2)])]),
                ])]),
            E.Facility(id=CANTEEN, name="GESTION SCOLAIRE / PERISCOLAIRE", activity_types=[
                E.ActivityType(id=MEALS, name="Restauration scolaire", activities=[
                    E.Activity(id=CANTINE, name="CANTINE", pre_registration=False, periods=[
                        period(MEALS_PERIOD, f"Restauration {YEAR}/{YEAR + 1}",
                               date(YEAR, 9, 1), date(YEAR + 1, 7, 4),
                               [group(GROUP_MEALS, "Élémentaire", 200, 150)])])])]),
        ]))


def registration(id, child_id, status, *, facility="CENTRE DE LOISIRS ALSH", activity="AUTOMNE",
                 label=f"Automne {YEAR}", group_label="6-8 ans Rémond",
                 start=date(YEAR, 10, 20), end=date(YEAR, 11, 3), reason=None, position=None,
                 pre=False, week=(), memo="") -> dict[str, Any]:
    first, last = NAMES[child_id]
    mark = {"validee": "V", "en_attente": "!" if pre else "?"}.get(status, "")
    return answer(E.Registration(
        id=id, child_id=child_id, child_first_name=first, child_last_name=last,
        family_id=FAMILY_ID, period_id=AUTUMN_PERIOD, group_id=GROUP_68, status=status,
        mark=mark, pre_registration=pre, facility_name=facility, activity_name=activity,
        period_label=label, group_label=group_label, start_date=start, end_date=end,
        typical_week=[E.TypicalDay(weekday=d, units=[]) for d in week], memo=memo,
        requested_at=f"{YEAR - 1}-09-02T08:00:00Z",
        decided_at=None if status in ("en_attente", "liste_attente")
        else f"{YEAR - 1}-09-03T14:30:00Z",
        reason=reason, waitlist_position=position, capacity=24))


def attestation(id, registration_id, status, requested_at, issued_at=None) -> dict[str, Any]:
    return answer(E.Attestation(id=id, registration_id=registration_id, status=status,
                                requested_at=requested_at, issued_at=issued_at))


def result(child_id: str, registration: dict[str, Any] | None, detail: str) -> E.RegistrationResult:
    return E.RegistrationResult(child_id=child_id, ok=registration is not None,
                                registration=registration, detail=detail)


NO_REQUESTS = answer(RequestItems(items=[]))


def registrations() -> dict[str, dict[str, Any]]:
    last_year = date.today() - timedelta(days=400)
    items = [
        registration(R_VALID, LEA, "validee", week=(1, 3),
                     memo="Allergie aux arachides.\nPAI fourni."),
        registration(R_PENDING, LEA, "en_attente", facility="GESTION SCOLAIRE / PERISCOLAIRE",
                     activity="CANTINE", label=f"Restauration {YEAR}/{YEAR + 1}",
                     group_label="Élémentaire", start=date(YEAR, 9, 1), end=date(YEAR + 1, 7, 4)),
        registration(R_WAIT, LEA, "liste_attente", activity="HIVER", label=f"Hiver {YEAR + 1}",
                     group_label="6-11 ans", start=date(YEAR + 1, 2, 10),
                     end=date(YEAR + 1, 2, 21), position=2),
        registration(R_REFUSED, LEA, "refusee", activity="ÉTÉ", label=f"Été {YEAR}",
                     reason="Dossier incomplet : certificat de vaccination manquant."),
        registration(R_PRE, TOM, "en_attente", pre=True, facility="MULTI-ACCUEIL LES PETITS PAS",
                     activity="CRÈCHE", label=f"Année {YEAR}", group_label="Bébés"),
        registration(R_ENDED, LEA, "validee", activity="PRINTEMPS", label="Printemps",
                     start=last_year, end=last_year + timedelta(days=10)),
    ]
    return {item["id"]: item for item in items}


def problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"type": "about:blank", "title": "Erreur",
                                        "status": status, "detail": detail},
                          headers={"content-type": "application/problem+json"})


class FakeEnrolment:
    """enrolment's family endpoints over in-memory data; `fake.serve("enrolment", self)`."""

    def __init__(self, fake: Any, *, family: bool = True) -> None:
        self.fake = fake
        self.offers = {LEA: offer(LEA), TOM: offer(TOM)}
        self.registrations = registrations()
        self.attestations = {ISSUED: attestation(ISSUED, R_VALID, "delivree",
                                                 f"{YEAR - 1}-09-10T08:00:00Z",
                                                 f"{YEAR - 1}-09-12T09:15:00Z")}
        # Set to an `httpx.Response` to answer the next POST of registrations with it.
        self.request_answer: httpx.Response | None = None
        self.posted: list[dict[str, Any]] = []
        self.tickets: dict[str, dict[str, Any]] = {}
        self.tickets_by_key: dict[str, str] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.ticket_posts: list[tuple[str, dict[str, Any]]] = []
        # Set to an `httpx.Response` to answer the next POST of tickets with it.
        self.ticket_answer: httpx.Response | None = None
        fake.serve("enrolment", self)
        if family:
            fake.on("GET", f"/families/{FAMILY_ID}", httpx.Response(200, json=FAMILY))

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        match = re.fullmatch(r"/families/([^/]+)(/.*)", request.url.path)
        if not match:
            return None
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return problem(401, "Authentification requise.")
        if match[1] != FAMILY_ID:
            return problem(404, "Ce foyer est introuvable.")
        return self.route(request, match[2])

    def route(self, request: httpx.Request, rest: str) -> httpx.Response | None:
        method, parts = request.method, rest.strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[0] == "children" and parts[2] == "offer":
            found = self.offers.get(parts[1])
            return httpx.Response(200, json=found) if found else problem(
                404, "Cet enfant ne fait pas partie de votre foyer (ou n'est pas encore connu "
                     "du service des inscriptions ; réessayez dans un instant).")
        if parts == ["registrations"]:
            return self.list(request) if method == "GET" else self.create(request)
        if parts[0] == "registrations" and len(parts) >= 2:
            item = self.registrations.get(parts[1])
            if item is None:
                return problem(404, "Cette inscription est introuvable.")
            if method == "GET" and len(parts) == 2:
                return httpx.Response(200, json=item)
            if method == "POST" and parts[2:] == ["cancel"]:
                return self.cancel(item)
            if method == "POST" and parts[2:] == ["attestation-requests"]:
                return self.attest(item)
        if parts == ["attestations"] and method == "GET":
            return httpx.Response(200, json=answer(E.Attestations(
                items=list(self.attestations.values()))))
        if parts[0] == "attestations" and parts[2:] == ["pdf"] and method == "GET":
            found = self.attestations.get(parts[1])
            if not found or found["status"] != "delivree":
                return problem(404, "Cette attestation est introuvable ou n'a pas encore été "
                                    "délivrée.")
            return httpx.Response(200, content=PDF_BYTES, headers={
                "content-type": "application/pdf",
                "content-disposition": f'attachment; filename="attestation-{parts[1]}.pdf"'})
        if parts == ["requests"] and method == "GET":
            return httpx.Response(200, json=NO_REQUESTS)
        if parts == ["openings"] and method == "GET":
            return httpx.Response(200, json=answer(Q.Openings(items=[OPENING])))
        if parts[0] == "tickets":
            return self.ticket_route(request, method, parts[1:])
        return None

    # --- the opening queue: a ticket is queued when given, decided when next read ---
    def ticket_route(self, request: httpx.Request, method: str, rest: list[str]
                     ) -> httpx.Response | None:
        if method == "POST" and not rest:
            key = request.headers.get("idempotency-key", "")
            if not 8 <= len(key) <= 64:
                return problem(422, "L'en-tête Idempotency-Key est requis.")
            body = json.loads(request.content)
            self.ticket_posts.append((key, body))
            if self.ticket_answer is not None:
                return self.ticket_answer
            if key in self.tickets_by_key:
                return httpx.Response(200, json=self.tickets[self.tickets_by_key[key]])
            ticket_id = str(uuid.uuid4())
            self.tickets_by_key[key] = ticket_id
            self.tickets[ticket_id] = answer(Q.Ticket(
                id=ticket_id, kind="inscription", resource_label="6-8 ans Rémond",
                status="en_file", position=len(self.tickets) + 41, ahead=40,
                received_at=f"{YEAR}-06-02T06:30:00Z", if_some_full=body["if_some_full"]))
            self.pending[ticket_id] = body
            return httpx.Response(202, json=self.tickets[ticket_id])
        if method == "GET" and not rest:
            return httpx.Response(200, json=answer(Q.Tickets(items=list(self.tickets.values()))))
        if method == "GET" and len(rest) == 1:
            found = self.tickets.get(rest[0])
            if found is None:
                return problem(404, "Ce ticket est introuvable.")
            answer_now = httpx.Response(200, json=found)
            if rest[0] in self.pending:  # decided by the next read
                body = self.pending.pop(rest[0])
                found.update(status="traite", ahead=0, decided_at=f"{YEAR}-06-02T06:30:02Z",
                             outcomes=[answer(Q.TicketOutcome(
                                 subject_id=c, label=NAMES[c][0], ok=True, status="validee",
                                 reference_id=R_VALID,
                                 detail=f"Inscription de {NAMES[c][0]} validée."))
                                 for c in body["child_ids"]])
            return answer_now
        return None

    def list(self, request: httpx.Request) -> httpx.Response:
        items = list(self.registrations.values())
        child = request.url.params.get("child_id")
        if child:
            items = [i for i in items if i["child_id"] == child]
        return httpx.Response(200, json=answer(E.Registrations(items=items)))

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.posted.append(body)
        if self.request_answer is not None:
            return self.request_answer
        results = []
        for child_id in [body["child_id"], *body.get("duplicate_for", [])]:
            first = NAMES[child_id][0]
            item = registration(str(uuid.uuid4()), child_id, "en_attente",
                                week=[d["weekday"] for d in body.get("typical_week", [])],
                                memo=body.get("memo", ""))
            self.registrations[item["id"]] = item
            results.append(result(child_id, item, f"Demande d'inscription de {first} "
                                                  "transmise à la structure."))
        return httpx.Response(201, json=answer(E.RegistrationResults(results=results)))

    def cancel(self, item: dict[str, Any]) -> httpx.Response:
        if item["status"] not in ("en_attente", "liste_attente", "validee"):
            return problem(409, "Cette inscription est déjà annulée ou refusée.")
        item.update(status="annulee", mark="", waitlist_position=None)
        return httpx.Response(204)

    def attest(self, item: dict[str, Any]) -> httpx.Response:
        if item["status"] != "validee":
            return problem(409, "Une attestation ne peut être demandée que pour une "
                                "inscription validée.")
        if any(a["registration_id"] == item["id"] and a["status"] == "demandee"
               for a in self.attestations.values()):
            return problem(409, "Une demande d'attestation est déjà en cours pour cette "
                                "inscription.")
        new = attestation(str(uuid.uuid4()), item["id"], "demandee", f"{YEAR}-01-05T10:00:00Z")
        self.attestations[new["id"]] = new
        return httpx.Response(201, json=new)
