"""The booking pages against the REAL booking app (in-process, SQLite, no broker): what the
back-office sends is accepted and what booking answers is read, beyond the schemas.

Booking gets its period through its own handler of enrolment's `PeriodPublished`; its token
verifier trusts the back-office tests' key; its clock is fixed. The other services stay fakes.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from marelle_chassis import migrations
from marelle_chassis.auth import TokenVerifier
from marelle_contracts import new_envelope
from marelle_contracts.enrolment import GroupFacts, PeriodPublished

from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import create_app

from .conftest import BASE_URL, JWKS, FakeServices, csrf_of, sign_in

BOOKING_PORT = 8103
STAFF_ID = str(uuid.UUID(int=7))


class _Route(httpx.AsyncBaseTransport):
    """Booking's calls to the real app, the rest to the fakes."""

    def __init__(self, fake: FakeServices, booking_app) -> None:
        self.fake = fake
        self.booking = httpx.ASGITransport(booking_app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if request.url.port == BOOKING_PORT and request.url.path != "/health/live":
            self.fake.requests.append(request)
            return await self.booking.handle_async_request(request)
        return self.fake(request)


@pytest.fixture
def period_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def group_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def booking_app(tmp_path: Path, period_id: str, group_id: str):
    from marelle_booking import handlers
    from marelle_booking.clock import FixedClock
    from marelle_booking.config import BookingSettings
    from marelle_booking.main import MIGRATIONS
    from marelle_booking.main import create_app as create_booking

    url = f"sqlite+aiosqlite:///{tmp_path / 'booking.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    # Thursday 22 October 2026, 10:00 in Paris.
    clock = FixedClock(datetime(2026, 10, 22, 10, tzinfo=ZoneInfo("Europe/Paris")))
    app = create_booking(BookingSettings(database_url=url, kafka_enabled=False), clock=clock)
    async with app.router.lifespan_context(app):
        app.state.token_verifier = TokenVerifier(jwks=JWKS)
        await handlers.enrolment_events(app.state.runtime)(new_envelope(PeriodPublished(
            period_id=period_id, facility_id=uuid.uuid4(), facility_name="CENTRE DE LOISIRS ALSH",
            activity_type_id=uuid.uuid4(), activity_type_name="Mercredi, vacances",
            activity_id=uuid.uuid4(), activity_name="AUTOMNE", label="Automne 2026",
            start_date=date(2026, 10, 19), end_date=date(2026, 10, 30),
            opens_at=datetime(2026, 9, 1, tzinfo=UTC), closes_at=datetime(2026, 10, 15, tzinfo=UTC),
            groups=[GroupFacts(group_id=group_id, label="6-8 ans", min_age=6, max_age=8,
                               capacity=12)]), producer="enrolment", version=1))
        yield app


@asynccontextmanager
async def backoffice_on(booking_app, fake: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(BackofficeSettings(), transport=_Route(fake, booking_app))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            sign_in(client, sub=STAFF_ID)
            yield client


def calendar_form(csrf: str, group_id: str) -> dict:
    return {"csrf": csrf, "jours": ["1", "2", "3", "4", "5"], "dates-ajoutees": "",
            "dates-retirees": "23/10/2026", "feries": "oui", "zone": "",
            "reservation-jours": "1", "reservation-heure": "15:00", "annulation-jours": "1",
            "annulation-ouvres": "oui", "annulation-heure": "12:00", "horizon": "60",
            "modifiable": "oui", "memo": "Sem 1 : du 19 au 22 octobre", "unites": "3",
            "unite-0-code": "repas", "unite-0-libelle": "Repas", "unite-0-type": "supplement",
            "unite-1-code": "journee", "unite-1-libelle": "Journée", "unite-1-type": "journee",
            "unite-1-inclut": "repas", "unite-2-code": "", "unite-2-libelle": "",
            f"capacite-{group_id}-0": "12", f"capacite-{group_id}-1": "10"}


async def test_the_calendar_occupancy_and_day_pages_work_with_booking(booking_app, period_id,
                                                                      group_id):
    fake = FakeServices()
    base = f"/reservations/periodes/{period_id}"
    async with backoffice_on(booking_app, fake) as client:
        first = await client.get(f"{base}/calendrier")
        assert first.status_code == 200, first.text
        assert "n&#39;est pas encore défini" in first.text
        csrf = await csrf_of(client, f"{base}/calendrier")
        saved = await client.post(f"{base}/calendrier", data=calendar_form(csrf, group_id))
        assert saved.status_code == 303, saved.text
        page = (await client.get(f"{base}/calendrier")).text
        # 19–30 October, weekdays, without Friday 23: 9 opening days.
        assert "9 jour(s) d&#39;ouverture." in page
        assert "<dt>octobre 2026</dt><dd>lundi 19, mardi 20, mercredi 21, jeudi 22, lundi 26" \
            in page
        assert f'id="capacite-{group_id}-1" name="capacite-{group_id}-1" value="10"' in page
        assert 'id="annulation-ouvres" name="annulation-ouvres" value="oui" checked' in page

        occupancy = await client.get(f"{base}/occupation?du=19/10/2026&au=22/10/2026")
        assert occupancy.status_code == 200, occupancy.text
        assert re.search(r"<td>6-8 ans</td>\s*<td>Journée</td>\s*<td>10</td>\s*<td>0</td>",
                         occupancy.text)
        chart = await client.get(f"{base}/occupation.svg?du=2026-10-19&au=2026-10-22")
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in chart.content
        sheet = await client.get(f"{base}/occupation.csv?du=2026-10-19&au=2026-10-22")
        assert sheet.status_code == 200 and sheet.content.startswith("\ufeff".encode())

        day = await client.get(f"{base}/jours/2026-10-22")
        assert day.status_code == 200, day.text
        assert "Personne n&#39;est en liste d&#39;attente ce jour." in day.text
        outside = await client.get(f"{base}/jours/2026-11-05")
        assert outside.status_code == 422 and 'href="#jour"' in outside.text


async def test_shuttles_and_roll_call_work_with_booking(booking_app, period_id, group_id):
    fake = FakeServices()
    fake.on("GET", "enrolment", "/staff/registrations", {"items": []})
    base = f"/reservations/periodes/{period_id}"
    async with backoffice_on(booking_app, fake) as client:
        csrf = await csrf_of(client, f"{base}/calendrier")
        await client.post(f"{base}/calendrier", data=calendar_form(csrf, group_id))

        created = await client.post(f"{base}/navettes/nouvelle", data={
            "csrf": csrf, "nom": "Ligne 1", "places": "20", "arrets": "2",
            "arret-0-nom": "Mairie", "arret-0-matin": "8h05", "arret-0-soir": "17:40",
            "arret-1-nom": "École", "arret-1-matin": "08:20"})
        assert created.status_code == 303, created.text
        line_id = created.headers["location"].split("#ligne-")[1]
        edited = await client.post(f"{base}/navettes/{line_id}/modifier", data={
            "csrf": csrf, "nom": "Ligne 1", "places": "25", "arrets": "1",
            "arret-0-nom": "Mairie", "arret-0-matin": "08:10"})
        assert edited.status_code == 303, edited.text
        lines = (await client.get(f"{base}/navettes")).text
        assert "25 places assises." in lines
        assert re.search(r'<th scope="row">Mairie</th>\s*<td>08:10</td>', lines)

        roll_call = f"{base}/groupes/{group_id}/jours/2026-10-22/pointage"
        page = await client.get(roll_call)
        assert page.status_code == 200, page.text
        locked = await client.post(roll_call, data={"csrf": csrf, "action": "verrouiller"})
        assert locked.status_code == 303, locked.text
        shown = (await client.get(locked.headers["location"])).text
        assert "Pointage verrouillé le 22/10/2026" in shown and "par vous" in shown
        unlocked = await client.post(roll_call, data={
            "csrf": csrf, "action": "deverrouiller", "motif-deverrouillage": "Oubli"})
        assert unlocked.status_code == 303, unlocked.text
        assert 'value="verrouiller"' in (await client.get(roll_call)).text


async def _family_with_a_validated_registration(app, period_id: str, group_id: str,
                                                name: str, child: str) -> tuple[str, str, str]:
    """A household (identity's event) and its child's validated registration (enrolment's),
    through booking's own handlers: (family id, child id, registration id)."""
    from marelle_booking import handlers
    from marelle_contracts.enrolment import RegistrationValidated
    from marelle_contracts.identity import ChildFacts, FamilyCreated

    family_id, child_id, registration_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await handlers.identity_events(app.state.runtime)(new_envelope(FamilyCreated(
        family_id=family_id, name=f"Famille {name}", children=[ChildFacts(
            child_id=child_id, first_name=child, last_name=name,
            birth_date=date(2018, 5, 1))]), producer="identity", version=1))
    await handlers.enrolment_events(app.state.runtime)(new_envelope(RegistrationValidated(
        registration_id=registration_id, child_id=child_id, family_id=family_id,
        period_id=period_id, group_id=group_id, facility_name="CENTRE DE LOISIRS ALSH",
        activity_name="AUTOMNE", period_label="Automne 2026", group_label="6-8 ans",
        start_date=date(2026, 10, 19), end_date=date(2026, 10, 30), status="validee",
        typical_week=[], memo="Allergie aux arachides"), producer="enrolment", version=2))
    return str(family_id), str(child_id), str(registration_id)


async def _book(app, family_id: str, registration_id: str, day: str) -> dict:
    from .conftest import make_token
    token = make_token(kind="parent", family_id=family_id, sub=str(uuid.uuid4()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                 base_url="http://booking.test") as parent:
        response = await parent.post(
            f"/families/{family_id}/registrations/{registration_id}/reservations",
            json={"changes": [{"day": day, "unit": "journee", "action": "reserver"}]},
            headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


async def test_the_day_its_waiting_list_and_the_roll_call_with_children(booking_app, period_id,
                                                                        group_id):
    fake = FakeServices()
    fake.on("GET", "enrolment", "/staff/registrations", {"items": []})
    base = f"/reservations/periodes/{period_id}"
    lea = await _family_with_a_validated_registration(booking_app, period_id, group_id,
                                                      "Martin", "Léa")
    zoe = await _family_with_a_validated_registration(booking_app, period_id, group_id,
                                                      "Petit", "Zoé")
    async with backoffice_on(booking_app, fake) as client:
        csrf = await csrf_of(client, f"{base}/calendrier")
        form = calendar_form(csrf, group_id)
        form[f"capacite-{group_id}-1"] = "1"  # one place for « journée »
        assert (await client.post(f"{base}/calendrier", data=form)).status_code == 303
        assert (await _book(booking_app, lea[0], lea[2], "2026-10-26"))["status"] == "reservee"
        assert (await _book(booking_app, zoe[0], zoe[2], "2026-10-26"))["status"] == \
            "liste_attente"

        day = f"{base}/jours/2026-10-26"
        html = (await client.get(day)).text
        units = re.search(r'<th scope="row">Martin Léa</th>\s*<td>\s*<ul class="day-units">\s*'
                          r"<li>(\w+)\s*<form .*?</form>\s*</li>\s*"
                          r"<li>(\w+)\s*<form .*?</form>\s*</li>\s*</ul>\s*</td>\s*"
                          r'<td><div class="memo">Allergie aux arachides</div></td>', html, re.S)
        assert units and set(units.groups()) == {"Journée", "Repas"}
        waiting = re.search(r'value="promouvoir:([0-9a-f-]+)"', html)
        assert waiting and "Petit" in html.split('id="attente-titre"')[1]
        promoted = await client.post(day, data={"csrf": csrf,
                                                "action": f"promouvoir:{waiting.group(1)}"})
        assert promoted.status_code == 409, promoted.text  # no place left: said in French
        assert f'<a href="#promouvoir-{waiting.group(1)}">' in promoted.text
        cancelled = await client.post(day, data={"csrf": csrf,
                                                 "action": f"annuler:{waiting.group(1)}"})
        assert cancelled.status_code == 303, cancelled.text
        assert "Personne n&#39;est en liste d&#39;attente ce jour." in \
            (await client.get(cancelled.headers["location"])).text

        booking_app.state.clock.set(datetime(2026, 10, 26, 18, tzinfo=ZoneInfo("Europe/Paris")))
        roll_call = f"{base}/groupes/{group_id}/jours/2026-10-26/pointage"
        page = (await client.get(roll_call)).text
        assert f'name="statut-{lea[1]}"' in page
        done = await client.post(roll_call, data={
            "csrf": csrf, "action": "verrouiller", f"statut-{lea[1]}": "absent_justifie",
            f"motif-{lea[1]}": "maladie", f"precision-{lea[1]}": "angine"})
        assert done.status_code == 303, done.text
        shown = (await client.get(roll_call)).text
        assert "<td>Absent justifié</td>" in shown
        assert "<td>Maladie (certificat) : angine</td>" in shown

        # Staff cancel one booked unit of Léa from the day page (even past the deadline).
        meal = re.search(r'value="annuler_reservation:([0-9a-f-]+)"[^>]*>Annuler<span '
                         r'class="visually-hidden"> « Repas » de Léa Martin',
                         (await client.get(day)).text).group(1)
        gone = await client.post(day, data={"csrf": csrf,
                                            "action": f"annuler_reservation:{meal}"})
        assert gone.status_code == 303, gone.text
        after = (await client.get(gone.headers["location"])).text
        assert "La réservation est annulée ; la place est libérée" in after
        assert f"annuler_reservation:{meal}" not in after
        assert "« Journée » de Léa Martin" in after
        again = await client.post(day, data={"csrf": csrf,
                                             "action": f"annuler_reservation:{meal}",
                                             f"nom-{meal}": "Léa Martin (Repas)"})
        assert again.status_code == 409, again.text  # no longer listed: said at the top
        assert "Léa Martin (Repas) : Cette réservation a déjà été annulée ou modifiée." in \
            again.text
