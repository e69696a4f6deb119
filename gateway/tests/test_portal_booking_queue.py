"""« Mes réservations » at a booking opening (issue #10, the opening rush): from before the
calendar's scheduled `bookings_open_at` until the rush window after it, the grid's « réserver »
choices are ONE ticket of booking's queue (the form's idempotency key: a double click or a
resubmission is the same ticket), followed on a page that reloads itself until the decision,
then shows each day's outcome — all without JavaScript. Outside the window, the grid books
directly as before; too early or overloaded, the family's choices come back kept.
"""

from __future__ import annotations

import html as markup
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from marelle_contracts.http import booking as B

from marelle_gateway.config import GatewaySettings

from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef

Y = ef.YEAR
GRID = f"/mes-inscriptions/{ef.R_VALID}/reservations"
TICKETS = "/mes-inscriptions/tickets-reservations/"
FAR = bf.WAITING  # in October, within the deadlines; free but for « journee »
EARLY = "Les réservations de cette période ouvrent le 30/11/2026 à 08:00."


def text(html: str) -> str:
    return markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def cell(html: str, day, unit: str) -> str:
    match = re.search(rf'<input type="checkbox" id="case-{day}-{unit}"[^>]*>', html)
    assert match, (day, unit)
    return match[0]


def key_of(html: str) -> str:
    return re.search(r'<input type="hidden" name="cle" value="([^"]+)">', html)[1]


def browser_form(html: str, *, add: tuple[str, ...] = (), drop: tuple[str, ...] = ()
                 ) -> dict[str, Any]:
    """What a browser sends: the checked enabled boxes (plus `add`, minus `drop`), the hidden
    initial state, the month and, at an opening, the form's key and « si complet »."""
    checked = re.findall(r'name="cases" value="([^"]+)" checked>', html)
    form: dict[str, Any] = {
        "cases": [c for c in checked if c not in drop] + list(add),
        "initial": re.findall(r'<input type="hidden" name="initial" value="([^"]+)">', html),
        "mois": f"{Y}-10"}
    if 'name="cle"' in html:
        form["cle"] = key_of(html)
        form["si_complet"] = "prendre_le_reste"
    return form


class OpeningBooking(bf.FakeBooking):
    """The fake booking with a scheduled opening: before it, no day is bookable now but the
    days the opening will accept say so (`bookable_at_opening`), and a ticket is refused with
    booking's French sentence."""

    def __init__(self, fake: Any, opens_at: datetime) -> None:
        super().__init__(fake)
        self.opens_at = opens_at

    def before(self) -> bool:
        return datetime.now(UTC) < self.opens_at

    def calendar(self, month: str | None) -> httpx.Response:
        month_ = B.CalendarMonth.model_validate(super().calendar(month).json())
        month_.bookings_open_at = self.opens_at
        if self.before():
            for day in month_.days:
                for c in day.cells:
                    if c.state in ("libre", "complet") and not day.past:
                        c.bookable_at_opening, c.bookable = c.bookable, False
                        c.reason = EARLY
        return httpx.Response(200, json=ef.answer(month_))

    def ticket_route(self, request: httpx.Request, method: str, rest: list[str]
                     ) -> httpx.Response | None:
        if method == "POST" and not rest and self.before():
            self._record("tickets", request)
            return ef.problem(409, EARLY)
        return super().ticket_route(request, method, rest)


def opening(fake: Any, enrolment: Any, minutes_ago: float) -> OpeningBooking:
    return OpeningBooking(fake, datetime.now(UTC) - timedelta(minutes=minutes_ago))


async def test_at_the_opening_the_grid_sends_one_ticket_then_follows_it(portal, fake, enrolment,
                                                                        gw):
    booking = opening(fake, enrolment, minutes_ago=10)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get(GRID)
        html = page.text
        assert page.status_code == 200
        shown = text(html)
        assert "Ouverture des réservations" in shown and "sont ouvertes depuis le" in shown
        assert "jusqu'à 2 h après l'ouverture" in shown
        assert "Envoyer ma demande" in shown and "<script" not in html
        assert 'name="si_complet" value="tout_ou_rien"' in html
        assert "Prendre le reste" in shown and "Tout ou rien" in shown
        key = key_of(html)
        assert len(key) == 32
        # Two new days, and one the rules refuse (sent anyway: booking says why).
        form = browser_form(html, add=(f"{FAR}|matin", f"{bf.FULL_DAY}|journee",
                                       f"{bf.TOO_LATE}|matin"))
        form["si_complet"] = "tout_ou_rien"
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
        assert sent.status_code == 303, text(sent.text)[:600]
        ticket_page = sent.headers["location"]
        assert ticket_page.startswith(TICKETS)
        # A double click / resubmission: the same key, the same ticket.
        again = await client.post(GRID, data=gw.with_csrf(client, form))
        assert again.status_code == 303 and again.headers["location"] == ticket_page
        waiting = await client.get(ticket_page)
        decided = await client.get(ticket_page)
    assert booking.ticket_keys == [key, key] and len(booking.tickets) == 1
    assert booking.posted["tickets"][0] == {
        "registration_id": ef.R_VALID, "if_some_full": "tout_ou_rien",
        "days": [{"date": str(bf.TOO_LATE), "unit": "matin"},
                 {"date": str(bf.FULL_DAY), "unit": "journee"},
                 {"date": str(FAR), "unit": "matin"}]}
    assert "reservations" not in booking.posted  # nothing booked around the queue
    # Queued: the place in line, and the page reloads itself.
    assert waiting.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in waiting.text
    assert "Votre place dans la file : 120" in text(waiting.text)
    assert "119 demande(s) à traiter avant la vôtre" in text(waiting.text)
    # Decided: each day's outcome in French, no more reloading, the way back to the grid.
    assert 'http-equiv="refresh"' not in decided.text
    result = text(decided.text)
    assert "Résultat jour par jour" in result
    assert "Jours réservés : 0 ; en liste d'attente : 2 ; refusés : 1." in result
    assert "Liste d'attente" in result and "Refusé" in result
    assert "Délai de réservation dépassé" in result  # the reason of the refusal
    assert f'href="{GRID}?mois={Y}-10"' in decided.text
    assert "Retour à la grille « Mes réservations »" in result


async def test_taking_the_rest_books_the_free_days(portal, fake, enrolment, gw):
    opening(fake, enrolment, minutes_ago=1)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        form = browser_form(html, add=(f"{FAR}|matin", f"{bf.FULL_DAY}|journee"))
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
        await client.get(sent.headers["location"])
        decided = text((await client.get(sent.headers["location"])).text)
    assert "Jours réservés : 1 ; en liste d'attente : 1 ; refusés : 0." in decided
    assert "Réservé" in decided and "✓" in decided  # a sign, not colour only


async def test_cancellations_of_the_same_form_stay_direct_and_are_made_once(portal, fake,
                                                                           enrolment, gw):
    booking = opening(fake, enrolment, minutes_ago=5)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        form = browser_form(html, add=(f"{FAR}|soir",), drop=(f"{bf.GROUP_FULL}|matin",))
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
        again = await client.post(GRID, data=gw.with_csrf(client, form))
        page = await client.get(sent.headers["location"])
    assert sent.status_code == again.status_code == 303
    assert booking.posted["tickets"][0]["days"] == [{"date": str(FAR), "unit": "soir"}]
    assert booking.posted["reservations"] == [{"changes": [
        {"day": str(bf.GROUP_FULL), "unit": "matin", "action": "annuler", "group_id": None}]}]
    assert (bf.GROUP_FULL, "matin") not in booking.reservations
    assert "annulees=1" in sent.headers["location"]
    assert "Annulations envoyées avec cette demande : 1 faite(s), 0 refusée(s)." in text(page.text)


async def test_only_cancellations_at_the_opening_take_the_direct_path(portal, fake, enrolment,
                                                                      gw):
    booking = opening(fake, enrolment, minutes_ago=5)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        form = browser_form(html, drop=(f"{bf.GROUP_FULL}|matin",))
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
    assert sent.status_code == 200 and "tickets" not in booking.posted
    assert "Annulé" in text(sent.text)


async def test_outside_the_rush_window_the_grid_books_directly(portal, fake, enrolment, gw):
    booking = opening(fake, enrolment, minutes_ago=121)  # the window is 2 hours
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        assert "Ouverture des réservations" not in text(html) and 'name="cle"' not in html
        assert '<label for="groupe">Choix du Groupe</label>' in html
        form = browser_form(html, add=(f"{FAR}|matin",))
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
    assert sent.status_code == 200
    assert "tickets" not in booking.posted and booking.ticket_keys == []
    assert booking.posted["reservations"][0]["changes"][0]["action"] == "reserver"
    assert "Réservé" in text(sent.text)


async def test_the_rush_window_is_a_setting_the_page_states(portal, fake, enrolment, gw):
    opening(fake, enrolment, minutes_ago=10)
    settings = GatewaySettings(booking_rush_minutes=30)
    async with portal(fake, settings=settings) as client:
        gw.signed_in(client, fake.parent_token())
        shown = text((await client.get(GRID)).text)
    assert "jusqu'à 30 min après l'ouverture" in shown
    settings = GatewaySettings(booking_rush_minutes=5)
    async with portal(fake, settings=settings) as client:
        gw.signed_in(client, fake.parent_token())
        shown = text((await client.get(GRID)).text)
    assert "Ouverture des réservations" not in shown  # 10 minutes after: over


async def test_before_the_opening_choices_are_prepared_and_come_back_kept(portal, fake,
                                                                          enrolment, gw):
    booking = OpeningBooking(fake, datetime.now(UTC) + timedelta(hours=1, minutes=30))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        shown = text(html)
        assert "Les réservations de cette période ouvrent le" in shown
        assert re.search(r"\(dans 1 h (29|30) min\)", shown), shown[:2000]
        # Selectable now, for the opening; the days the opening will refuse are not.
        assert "disabled" not in cell(html, FAR, "matin")
        assert "disabled" in cell(html, bf.TOO_LATE, "matin")
        key = key_of(html)
        form = browser_form(html, add=(f"{FAR}|matin",))
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
    assert sent.status_code == 409
    again = sent.text
    assert EARLY in text(again)  # booking's French sentence
    assert " checked>" in cell(again, FAR, "matin")  # the choice kept
    assert key_of(again) == key  # the same key: sending later is the same request
    # The initial state is booking's, not the choice: unticking it later is no cancellation.
    assert f'name="initial" value="{FAR}|matin"' not in again
    assert booking.ticket_keys == [] and "reservations" not in booking.posted


async def test_an_overloaded_booking_gives_a_french_page_that_reloads_with_the_choices(
        portal, fake, enrolment, gw):
    booking = opening(fake, enrolment, minutes_ago=1)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        key = key_of(html)
        form = browser_form(html, add=(f"{FAR}|matin",))
        booking.answer_next = gw.problem(503, "Trop de demandes en ce moment.", retry_after=7)
        busy = await client.post(GRID, data=gw.with_csrf(client, form))
        assert busy.status_code == 503
        assert "très sollicité" in text(busy.text) and "se recharge dans 7 s" in text(busy.text)
        assert " checked>" in cell(busy.text, FAR, "matin")
        refresh = re.search(r'<meta http-equiv="refresh" content="7; url=([^"]+)">', busy.text)
        assert refresh, busy.text[:800]
        url = refresh[1].replace("&amp;", "&")
        query = parse_qs(urlsplit(url).query)
        assert query["cle"] == [key] and f"{FAR}|matin" in query["choix"]
        # The reload: the grid, the choices and the key kept, ready to send again.
        back = await client.get(url)
        assert back.status_code == 200
        assert " checked>" in cell(back.text, FAR, "matin") and key_of(back.text) == key
        assert "Vos choix ont été gardés" in text(back.text)
        booking.answer_next = gw.problem(429, "Trop de demandes.", retry_after=3)
        limited = await client.post(GRID, data=gw.with_csrf(client, form))
        assert limited.status_code == 503 and 'content="3; url=' in limited.text
        sent = await client.post(GRID, data=gw.with_csrf(client, form))
    assert sent.status_code == 303
    assert booking.ticket_keys[-1] == key and len(booking.tickets) == 1


async def test_the_ticket_page_reloads_while_booking_is_down(portal, fake, enrolment, gw):
    booking = opening(fake, enrolment, minutes_ago=1)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get(GRID)).text
        sent = await client.post(GRID, data=gw.with_csrf(
            client, browser_form(html, add=(f"{FAR}|matin",))))
        location = sent.headers["location"]
        fake.serve("booking", lambda request: gw.problem(503, "Surchargé.", retry_after=4))
        down = await client.get(location)
        fake.serve("booking", booking)
        unknown = await client.get(TICKETS + "00000000-0000-4000-8000-000000000000")
        not_an_id = await client.get(TICKETS + "pas-un-ticket")
    assert down.status_code == 503
    assert '<meta http-equiv="refresh" content="4">' in down.text
    assert "très sollicité" in text(down.text) and "votre place est gardée" in text(down.text)
    assert unknown.status_code == 404 and not_an_id.status_code == 404


async def test_choices_in_a_link_never_untick_a_booked_day(portal, fake, enrolment, gw):
    """The reload's address carries the choices; a link made by someone else cannot prepare
    cancellations: booked days stay ticked whatever it says."""
    opening(fake, enrolment, minutes_ago=1)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get(f"{GRID}?mois={Y}-10&cle=cle-de-quelqu-un&choix={FAR}|soir")
    assert page.status_code == 200
    assert " checked>" in cell(page.text, bf.SHUTTLE_FULL, "journee")
    assert " checked>" in cell(page.text, FAR, "soir")


async def test_the_opening_reads_in_english_too(portal, fake, enrolment, gw):
    OpeningBooking(fake, datetime.now(UTC) + timedelta(days=2, hours=3))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        shown = text((await client.get(f"{GRID}?lang=en")).text)
    assert "Bookings for this period open on" in shown
    assert re.search(r"\(in 2 d [23] h\)", shown)
    assert "Send my request" in shown and "All or nothing" in shown


async def test_during_the_opening_the_typical_week_and_groups_do_not_book_past_the_queue(
        portal, fake, enrolment, gw):
    """A typical week or a change of group would take places directly, ahead of the families
    waiting in the queue: refused in French until the rush window ends, booking never asked."""
    booking = opening(fake, enrolment, minutes_ago=10)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        week = await client.post(f"{GRID}/semaine-type", data=gw.with_csrf(client, {
            "debut": str(bf.START), "fin": str(bf.END), "jour-1": ["journee"]}))
        groups = await client.post(f"{GRID}/groupes", data=gw.with_csrf(client, {
            "jours": [str(bf.SHUTTLE_FULL)], "groupe": ef.GROUP_911}))
    for response in (week, groups):
        assert response.status_code == 409
        assert "Pendant l'ouverture des réservations" in text(response.text)
        assert "ordre d'arrivée" in text(response.text)
    assert "typical-week" not in booking.posted and "group-assignments" not in booking.posted

    after = opening(fake, enrolment, minutes_ago=121)  # the window is 2 hours
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        week = await client.post(f"{GRID}/semaine-type", data=gw.with_csrf(client, {
            "debut": str(bf.START), "fin": str(bf.END), "jour-1": ["journee"]}))
    assert week.status_code == 200 and "typical-week" in after.posted
