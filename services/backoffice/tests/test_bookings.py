"""« Réservations »: the section, a period's calendar and options, occupancy, the day's list and
waiting list, the roll call, the shuttle lines — against booking's staff API (a fake built from
booking's contract models, `booking_sample.py`)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .booking_sample import (
    BOOKED_HUGO_MORNING,
    BOOKED_LEA_DAY,
    BOOKED_LEA_MEAL,
    CALENDAR,
    CHILD_HUGO,
    CHILD_LEA,
    CREATED,
    DAY,
    DAY_LIST,
    DAY_WAITING,
    LINE_ID,
    LOCKED_ROLL_CALL,
    OCCUPANCY,
    OCCUPANCY_CSV,
    OCCUPANCY_SVG,
    PERIOD,
    ROLL_CALL,
    SHUTTLE_LINES,
    STAFF_ID,
    WAIT_MAX,
    WAIT_ZOE,
)
from .conftest import csrf_of, problem, sign_in
from .enrolment_sample import CATALOGUE, FULL_GROUP_ID, GROUP_ID, PERIOD_ID, REG_ZOE, registration

BASE = f"/reservations/periodes/{PERIOD_ID}"
CALENDAR_PATH = f"{BASE}/calendrier"
DAY_PATH = f"{BASE}/jours/{DAY}"
ROLL_CALL_PATH = f"{BASE}/groupes/{GROUP_ID}/jours/{DAY}/pointage"
ROLL_CALL_API = f"/staff/roll-calls/{PERIOD_ID}/{GROUP_ID}/{DAY}"
ZOE_CHILD = REG_ZOE.replace("e", "c", 1)


def with_booking(fake, *, calendar=CALENDAR):
    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    fake.on("GET", "booking", f"/staff/periods/{PERIOD_ID}", PERIOD)
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}",
            calendar if calendar is not None else problem(404, "Calendrier non défini."))
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy", OCCUPANCY)
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/days/{DAY}/children", DAY_LIST)
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/days/{DAY}/waiting-list",
            DAY_WAITING)
    fake.on("GET", "booking", "/staff/shuttle-lines", SHUTTLE_LINES)
    fake.on("GET", "booking", ROLL_CALL_API, ROLL_CALL)
    fake.on("GET", "enrolment", "/staff/registrations", {"items": [
        registration(REG_ZOE, "Zoé", status="validee"),
        registration("e0000000-0000-4000-8000-00000000000a", "Léa", status="validee")]})
    return fake


def sent_json(fake, method: str, path: str) -> list:
    return [json.loads(r.content) for r in fake.sent(method, "booking", path)]


# --- the section and the menu -------------------------------------------------------------------

@pytest.mark.parametrize("roles", [("manager",), ("administrator",)])
async def test_the_section_lists_the_periods_for_managers_and_administrators(backoffice, fake,
                                                                            roles):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client, roles=roles)
        response = await client.get("/reservations")
    html = response.text
    assert response.status_code == 200
    nav = html.split('<nav class="site-nav"')[1].split("</nav>")[0]
    assert '<a href="/reservations" aria-current="page">Réservations</a>' in nav
    assert ("Journal" in nav) == ("administrator" in roles)
    assert "<h1>Réservations</h1>" in html
    assert "AUTOMNE - Automne 2016" in html and "AUTOMNE - Été 2016" in html
    for path in ("calendrier", "occupation", "jours", "navettes"):
        assert f'href="{BASE}/{path}"' in html


async def test_the_catalogue_links_each_period_to_its_calendar(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        html = (await client.get("/catalogue")).text
    assert (f'<a href="{CALENDAR_PATH}">Calendrier de réservation<span class="visually-hidden">'
            " AUTOMNE - Automne 2016</span></a>") in html


# --- the calendar -------------------------------------------------------------------------------

async def test_the_calendar_shows_the_options_units_capacities_and_opening_days(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(CALENDAR_PATH)
    html = response.text
    assert response.status_code == 200
    assert "<h1>Calendrier de réservation : AUTOMNE - Automne 2016</h1>" in html
    for day in range(1, 6):
        assert f'id="jour-{day}" name="jours" value="{day}" checked' in html
    assert 'id="jour-6" name="jours" value="6">' in html
    assert re.search(r'<textarea id="dates-retirees" name="dates-retirees"[^>]*>02/11/2016'
                     r"</textarea>", html)
    assert 'id="feries" name="feries" value="oui" checked' in html
    assert 'id="vacances" name="vacances" value="oui" aria' not in html
    assert "« la veille à 15 h » = 1 jour, jours calendaires, heure limite 15:00" in html
    assert 'id="reservation-jours" name="reservation-jours" type="text" value="1"' in html
    assert 'id="reservation-heure" name="reservation-heure" type="text" value="15:00"' in html
    assert 'id="annulation-jours" name="annulation-jours" type="text" value="2"' in html
    assert 'id="annulation-ouvres" name="annulation-ouvres" value="oui" checked' in html
    assert 'id="semaine" name="semaine" value="oui" checked' in html
    assert 'id="horizon" name="horizon" type="text" value="60"' in html
    assert "MEMO : Informations réservation" in html
    # Three units and two empty rows; « journée » implies « repas ».
    assert 'name="unites" value="5"' in html
    assert 'id="unite-2-code" name="unite-2-code" type="text" value="journee"' in html
    assert 'id="unite-2-inclut" name="unite-2-inclut" type="text" value="repas"' in html
    assert '<option value="journee" selected>Journée</option>' in html
    assert 'id="unite-3-code" name="unite-3-code" type="text" value=""' in html
    # One input per group × unit, labelled; the day's own capacity is not on the form.
    assert (f'<label for="capacite-{GROUP_ID}-2" class="visually-hidden">Places du groupe '
            "6-8 ans Rémond pour l&#39;unité Journée complète</label>") in html
    assert f'id="capacite-{GROUP_ID}-2" name="capacite-{GROUP_ID}-2" value="12"' in html
    assert f'id="capacite-{FULL_GROUP_ID}-2" name="capacite-{FULL_GROUP_ID}-2" value="2"' in html
    assert f'id="capacite-{GROUP_ID}-1" name="capacite-{GROUP_ID}-1" value=""' in html
    # The result: opening days and weeks.
    assert "9 jour(s) d&#39;ouverture." in html
    assert "Sem 1 : 20 et 21 octobre 2016" in html
    assert f'<a href="{BASE}/jours/2016-10-20">20/10/2016</a>' in html
    assert "<dt>octobre 2016</dt><dd>jeudi 20, vendredi 21, lundi 24" in html


async def test_a_calendar_not_configured_yet_starts_from_the_defaults(backoffice, fake):
    async with backoffice(with_booking(fake, calendar=None)) as client:
        sign_in(client)
        response = await client.get(CALENDAR_PATH)
    html = response.text
    assert response.status_code == 200
    assert "n&#39;est pas encore défini" in html
    assert 'id="unite-0-code" name="unite-0-code" type="text" value="accueil-matin"' in html
    assert "Jours d&#39;ouverture qui en résultent" not in html


def calendar_form(csrf: str, **changes: str) -> dict:
    form = {"csrf": csrf, "jours": ["1", "2", "4", "5"], "dates-ajoutees": "26/10/2016\n",
            "dates-retirees": "02/11/2016\r\n\r\n 31/10/2016", "feries": "oui",
            "vacances": "oui", "zone": "B", "reservation-jours": "1",
            "reservation-heure": "15h", "annulation-jours": "2", "annulation-ouvres": "oui",
            "annulation-heure": "12:00", "horizon": "", "modifiable": "oui", "semaine": "oui",
            "memo": "Sem 1 : 20 et 21 octobre 2016", "unites": "5",
            "unite-0-code": "accueil-matin", "unite-0-libelle": "Accueil du matin",
            "unite-0-type": "accueil", "unite-0-inclut": "",
            "unite-1-code": "", "unite-1-libelle": "", "unite-1-type": "accueil",
            "unite-2-code": "journee", "unite-2-libelle": "Journée complète",
            "unite-2-type": "journee", "unite-2-inclut": "repas",
            "unite-3-code": "repas", "unite-3-libelle": "Repas", "unite-3-type": "supplement",
            "unite-4-code": "", "unite-4-libelle": "",
            f"capacite-{GROUP_ID}-2": "14", f"capacite-{FULL_GROUP_ID}-2": "3",
            f"capacite-{GROUP_ID}-0": "", f"capacite-{GROUP_ID}-3": "0",
            "ouverture-date": "01/09/2016", "ouverture-heure": "08:30"}
    form.update(changes)
    return form


async def test_saving_the_calendar_sends_the_contract_body(backoffice, fake):
    fake.on("PUT", "booking", f"/staff/calendars/{PERIOD_ID}", CALENDAR)
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, CALENDAR_PATH)
        response = await client.post(CALENDAR_PATH, data=calendar_form(csrf))
        after = await client.get(response.headers["location"])
    assert response.status_code == 303
    assert response.headers["location"] == f"{CALENDAR_PATH}?message=enregistre#resultat"
    [body] = sent_json(fake, "PUT", f"/staff/calendars/{PERIOD_ID}")
    assert body == {
        "weekdays": [1, 2, 4, 5], "added_dates": ["2016-10-26"],
        "removed_dates": ["2016-11-02", "2016-10-31"], "skip_public_holidays": True,
        "skip_school_holidays": True, "school_zone": "B",
        "booking_deadline": {"days": 1, "working_days": False, "cutoff": "15:00:00"},
        "cancellation_deadline": {"days": 2, "working_days": True, "cutoff": "12:00:00"},
        "horizon_days": None, "families_may_modify": True, "week_only": True,
        "memo": "Sem 1 : 20 et 21 octobre 2016",
        "units": [{"code": "accueil-matin", "label": "Accueil du matin", "kind": "accueil",
                   "implies": []},
                  {"code": "journee", "label": "Journée complète", "kind": "journee",
                   "implies": ["repas"]},
                  {"code": "repas", "label": "Repas", "kind": "supplement", "implies": []}],
        "capacities": [
            {"group_id": GROUP_ID, "unit": "journee", "capacity": 14},
            {"group_id": GROUP_ID, "unit": "repas", "capacity": 0},
            {"group_id": FULL_GROUP_ID, "unit": "journee", "capacity": 3},
            # The capacity booking holds for one day only is kept.
            {"group_id": GROUP_ID, "unit": "journee", "capacity": 8, "day": "2016-10-31"}],
        # The scheduled opening of bookings: 8:30 in Paris (summer time).
        "bookings_open_at": "2016-09-01T08:30:00+02:00",
    }
    assert "Le calendrier est enregistré." in after.text


async def test_calendar_errors_are_french_by_their_fields_and_nothing_is_sent(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, CALENDAR_PATH)
        response = await client.post(CALENDAR_PATH, data=calendar_form(
            csrf, **{"dates-ajoutees": "26/10/2016\n31/02/2016", "zone": "",
                     "reservation-heure": "quinze heures", "unite-3-code": "Repas Midi",
                     "unite-2-inclut": "gouter", f"capacite-{FULL_GROUP_ID}-2": "beaucoup",
                     "horizon": "0", "jours": []}))
    html = response.text
    assert response.status_code == 422
    assert not fake.sent("PUT", "booking", f"/staff/calendars/{PERIOD_ID}")
    assert "<title>Erreur : Calendrier" in html
    for field_id, message in (
            ("jour-1", "Cochez au moins un jour d&#39;ouverture."),
            ("dates-ajoutees", "Ligne 2 : « 31/02/2016 » n&#39;est pas une date au format "
                               "JJ/MM/AAAA."),
            ("zone", "Choisissez la zone scolaire (A, B ou C) pour fermer pendant les "
                     "vacances scolaires."),
            ("reservation-heure", "Saisissez l&#39;heure limite au format HH:MM"),
            ("horizon", "Saisissez un nombre de jours entre 1 et 730, ou laissez vide."),
            ("unite-3-code", "Saisissez un code en minuscules, chiffres, - ou _"),
            ("unite-2-inclut", "« gouter » n&#39;est pas le code d&#39;une autre unité"),
            (f"capacite-{FULL_GROUP_ID}-2", "Saisissez un nombre de places entre 0 et 10000")):
        assert re.search(rf'<p id="{field_id}-erreur" class="field-error"><span '
                         rf'class="visually-hidden">Erreur : </span>{re.escape(message)}', html), \
            field_id
        assert f'<a href="#{field_id}">' in html
    assert (f'<a href="#capacite-{FULL_GROUP_ID}-2">Places du groupe 9-11 ans pour l&#39;unité '
            "Journée complète : saisissez un nombre entre 0 et 10000.</a>") in html
    # What was typed is shown again.
    assert 'id="unite-3-code" name="unite-3-code" type="text" value="Repas Midi"' in html


async def test_bookings_own_field_errors_go_by_the_fields(backoffice, fake):
    fake.on("PUT", "booking", f"/staff/calendars/{PERIOD_ID}", problem(
        422, "Certaines informations sont invalides.",
        [{"champ": "units.1.implies", "message": "Une unité ne peut pas s'impliquer elle-même."},
         {"champ": "capacities.1.capacity", "message": "Capacité trop grande pour le groupe."},
         {"champ": "cancellation_deadline.cutoff", "message": "Heure invalide."},
         {"champ": "corps", "message": "Les dates ajoutées sont hors de la période."}]))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, CALENDAR_PATH)
        response = await client.post(CALENDAR_PATH, data=calendar_form(csrf))
    html = response.text
    assert response.status_code == 422
    assert ('<a href="#unite-2-inclut">Une unité ne peut pas s&#39;impliquer elle-même.</a>'
            in html)
    # The second capacity sent is the « repas » of 6-8 ans (row 3 of the units).
    assert f'<a href="#capacite-{GROUP_ID}-3">Capacité trop grande pour le groupe.</a>' in html
    assert '<a href="#annulation-heure">Heure invalide.</a>' in html
    assert "<li>Les dates ajoutées sont hors de la période.</li>" in html


async def test_a_calendar_conflict_is_shown_in_french(backoffice, fake):
    detail = "Le calendrier a été modifié entre-temps : rechargez la page."
    fake.on("PUT", "booking", f"/staff/calendars/{PERIOD_ID}", problem(409, detail))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, CALENDAR_PATH)
        response = await client.post(CALENDAR_PATH, data=calendar_form(csrf))
    assert response.status_code == 409
    assert f"<li>{detail}</li>" in response.text.replace("&#39;", "'")


async def test_every_booking_form_needs_the_csrf_token(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        await csrf_of(client, CALENDAR_PATH)
        forged = {"csrf": "x" * 43, "action": "annuler:" + WAIT_ZOE}
        responses = [await client.post(path, data=forged)
                     for path in (CALENDAR_PATH, DAY_PATH, ROLL_CALL_PATH,
                                  f"{BASE}/navettes/nouvelle",
                                  f"{BASE}/navettes/{LINE_ID}/modifier")]
    assert [r.status_code for r in responses] == [403] * 5
    assert all("Accès refusé" in r.text or "formulaire" in r.text for r in responses)
    assert not [r for r in fake.requests if r.method in ("POST", "PUT")]


async def test_an_answer_of_another_shape_is_the_503_page(backoffice, fake):
    broken = {**CALENDAR, "opening_days": "tous les jours"}
    async with backoffice(with_booking(fake, calendar=broken)) as client:
        sign_in(client)
        response = await client.get(CALENDAR_PATH)
    assert response.status_code == 503 and "Service indisponible" in response.text


async def test_an_unknown_period_is_a_404(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(CALENDAR_PATH)
        malformed = await client.get("/reservations/periodes/pas-un-id/calendrier")
        bad_day = await client.get(f"{BASE}/jours/2016-13-45")
    assert response.status_code == 404 and "Page introuvable" in response.text
    assert malformed.status_code == 404 and bad_day.status_code == 404
    assert not [r for r in fake.domain_calls() if "pas-un-id" in str(r.url)]


# --- occupancy ----------------------------------------------------------------------------------

async def test_occupancy_is_a_table_a_chart_with_a_summary_and_a_csv(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/occupation")
    html = response.text
    assert response.status_code == 200
    [sent] = fake.sent("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy")
    assert dict(sent.url.params) == {"start": "2016-10-20", "end": "2016-11-03"}
    assert 'id="occupation-du" name="du" type="text" value="20/10/2016"' in html
    assert ('<caption id="occupation-legende">Occupation par jour, groupe et unité, du '
            "20/10/2016 au 03/11/2016</caption>") in html
    for header in ("Places", "Réservées", "En liste d&#39;attente", "Places libres"):
        assert f'<th scope="col">{header}</th>' in html
    assert re.search(r"<td>9-11 ans</td>\s*<td>Journée complète</td>\s*<td>2</td>\s*"
                     r'<td>2 <span class="status status-warn">Complet</span></td>\s*<td>2</td>'
                     r"\s*<td>0</td>", html)
    query = "du=2016-10-20&amp;au=2016-11-03"
    assert (f'<img src="{BASE}/occupation.svg?{query}" alt="Occupation du 20/10/2016 au '
            "03/11/2016 : 18 places réservées sur 26, 2 demande(s) en liste d&#39;attente ; "
            "jour le plus chargé : 20/10/2016 (9 réservations). Le détail est dans le "
            'tableau.">') in html
    assert f'href="{BASE}/occupation.csv?{query}" download>' in html
    assert f'<a href="{BASE}/jours/2016-10-21">21/10/2016</a>' in html


async def test_an_occupancy_range_out_of_order_is_said_by_its_field(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/occupation?du=25/10/2016&au=21/10/2016")
        typo = await client.get(f"{BASE}/occupation?du=hier&au=21/10/2016")
    assert response.status_code == 422
    assert '<a href="#occupation-au">La date de fin doit être après la date de début.</a>' \
        in response.text
    assert "Saisissez la date de début au format JJ/MM/AAAA." in typo.text
    assert not fake.sent("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy")


async def test_the_chart_and_the_csv_are_passed_on_with_the_staff_token(backoffice, fake):
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy.svg",
            httpx.Response(200, content=OCCUPANCY_SVG,
                           headers={"content-type": "image/svg+xml"}))
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy.csv",
            httpx.Response(200, content=OCCUPANCY_CSV,
                           headers={"content-type": "text/csv; charset=utf-8"}))
    async with backoffice(fake) as client:
        sign_in(client)
        chart = await client.get(f"{BASE}/occupation.svg?du=2016-10-20&au=2016-10-21")
        sheet = await client.get(f"{BASE}/occupation.csv?du=2016-10-20&au=2016-10-21")
        missing = await client.get(f"{BASE}/occupation.svg")
    assert chart.status_code == 200 and chart.content == OCCUPANCY_SVG
    assert chart.headers["content-type"] == "image/svg+xml"
    assert "default-src 'none'" in chart.headers["content-security-policy"]
    assert sheet.content == OCCUPANCY_CSV and sheet.content.startswith("\ufeff".encode())
    assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
    assert sheet.headers["content-disposition"] == \
        'attachment; filename="occupation-2016-10-20-2016-10-21.csv"'
    [svg_call] = fake.sent("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy.svg")
    assert svg_call.headers["authorization"].startswith("Bearer ")
    assert dict(svg_call.url.params) == {"start": "2016-10-20", "end": "2016-10-21"}
    assert missing.status_code == 404


async def test_a_chart_that_is_not_an_svg_is_an_outage(backoffice, fake):
    fake.on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy.svg",
            httpx.Response(200, text="<html>oops</html>", headers={"content-type": "text/html"}))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/occupation.svg?du=2016-10-20&au=2016-10-21")
    assert response.status_code == 503 and "oops" not in response.text


# --- the day ------------------------------------------------------------------------------------

async def test_the_day_lists_children_per_group_printable_with_the_waiting_list(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(DAY_PATH)
    html = response.text
    assert response.status_code == 200
    assert "<h1>Journée du jeudi 20/10/2016</h1>" in html
    assert html.count('<section class="print-group"') == 2
    assert ('<caption id="enfants-' + GROUP_ID + '">Enfants du groupe 6-8 ans Rémond (2)'
            "</caption>") in html
    assert re.search(r"<th scope=\"row\">Martin Léa</th>\s*<td>\s*<ul class=\"day-units\">\s*"
                     r"<li>Journée complète\s*<form .*?</form>\s*</li>\s*"
                     r"<li>Repas\s*<form .*?</form>\s*</li>\s*</ul>\s*</td>\s*"
                     r'<td><div class="memo">Allergie aux arachides</div></td>\s*'
                     r"<td>Ligne 1 — Mairie \(aller 8 h 05\)</td>", html, re.S)
    assert html.index("Bernard Hugo") < html.index("Martin Léa")
    assert f'href="{ROLL_CALL_PATH}">Pointage' in html
    assert "Aucun enfant réservé ce jour dans ce groupe." in html  # 9-11 ans
    assert "la commande Imprimer de votre navigateur" in html
    assert f'value="promouvoir:{WAIT_ZOE}"' in html and f'value="annuler:{WAIT_MAX}"' in html
    assert "Promouvoir<span" in html and "Annuler<span" in html


def test_the_print_stylesheet_hides_the_menu_and_breaks_pages_per_group():
    from marelle_backoffice.rendering import STATIC_DIR
    css = (STATIC_DIR / "backoffice.css").read_text()
    print_css = css.split("@media print")[1]
    assert ".site-nav" in print_css and ".site-header" in print_css
    assert ".print-group { break-after: page;" in print_css


async def test_a_day_picked_in_french_goes_to_that_day(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        form = await client.get(f"{BASE}/jours")
        picked = await client.get(f"{BASE}/jours?date=21/10/2016")
        wrong = await client.get(f"{BASE}/jours?date=31/02/2016")
    assert 'id="jour" name="date" type="text" value="20/10/2016"' in form.text
    assert picked.status_code == 303 and picked.headers["location"] == f"{BASE}/jours/2016-10-21"
    assert wrong.status_code == 422 and "Saisissez le jour au format JJ/MM/AAAA." in wrong.text


@pytest.mark.parametrize("action,route,flash", [
    ("promouvoir", "promote", "La demande est passée de la liste d&#39;attente aux réservations"),
    ("annuler", "cancel", "La demande est annulée"),
])
async def test_promote_and_cancel_call_booking_then_say_so(backoffice, fake, action, route,
                                                           flash):
    fake.on("POST", "booking", f"/staff/reservations/{WAIT_ZOE}/{route}", httpx.Response(204))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, DAY_PATH)
        response = await client.post(DAY_PATH, data={"csrf": csrf,
                                                     "action": f"{action}:{WAIT_ZOE}"})
        after = await client.get(response.headers["location"])
    assert response.status_code == 303
    assert len(fake.sent("POST", "booking", f"/staff/reservations/{WAIT_ZOE}/{route}")) == 1
    assert flash in after.text


async def test_a_promotion_refused_409_is_shown_in_french_by_its_row(backoffice, fake):
    full = "Le groupe « 9-11 ans » est complet ce jour pour « journee »."
    fake.on("POST", "booking", f"/staff/reservations/{WAIT_MAX}/promote", problem(409, full))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, DAY_PATH)
        response = await client.post(DAY_PATH, data={
            "csrf": csrf, "action": f"promouvoir:{WAIT_MAX}", f"nom-{WAIT_MAX}": "Max Durand"})
        nothing = await client.post(DAY_PATH, data={"csrf": csrf, "action": "rien"})
    html = response.text
    assert response.status_code == 409
    assert f'<a href="#promouvoir-{WAIT_MAX}">Max Durand : {full}</a>' in html
    assert f'<tr id="attente-{WAIT_MAX}" class="row-invalid">' in html
    assert nothing.status_code == 422
    assert "Choisissez une action sur une ligne de la liste d&#39;attente." in nothing.text


async def test_each_booked_unit_has_its_cancel_button_which_calls_booking(backoffice, fake):
    route = f"/staff/reservations/{BOOKED_LEA_MEAL}/cancel"
    fake.on("POST", "booking", route, httpx.Response(204))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        page = await client.get(DAY_PATH)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        response = await client.post(DAY_PATH, data={
            "csrf": csrf, "action": f"annuler_reservation:{BOOKED_LEA_MEAL}",
            f"nom-{BOOKED_LEA_MEAL}": "Léa Martin (Repas)"})
        after = await client.get(response.headers["location"])
    html = page.text
    for rid, label, child in ((BOOKED_LEA_DAY, "Journée complète", "Léa Martin"),
                              (BOOKED_LEA_MEAL, "Repas", "Léa Martin"),
                              (BOOKED_HUGO_MORNING, "Accueil du matin", "Hugo Bernard")):
        form = re.search(r'<form method="post" action="' + re.escape(DAY_PATH)
                         + r'" class="inline-form no-print" novalidate>(.*?)</form>', html[
                             html.index(f'name="nom-{rid}"') - 400:], re.S).group(1)
        assert f'<input type="hidden" name="csrf" value="{csrf}">' in form
        assert f'name="nom-{rid}" value="{child} ({label})"' in form
        assert (f'<button type="submit" id="annuler_reservation-{rid}" name="action" '
                f'value="annuler_reservation:{rid}" class="button button-small button-secondary">'
                f'Annuler<span class="visually-hidden"> « {label} » de {child}</span></button>'
                ) in form
    assert "la place revient au premier de la liste d&#39;attente" in html
    assert response.status_code == 303
    assert response.headers["location"] == f"{DAY_PATH}?message=reservation_annulee"
    [sent] = fake.sent("POST", "booking", route)
    assert sent.content in (b"", None)
    assert not fake.sent("POST", "booking", f"/staff/reservations/{BOOKED_LEA_DAY}/cancel")
    assert ("La réservation est annulée ; la place est libérée et la famille est prévenue."
            in after.text)


@pytest.mark.parametrize("status,detail,shown", [
    (409, "Cette réservation a déjà été annulée ou modifiée.",
     "Cette réservation a déjà été annulée ou modifiée."),
    (404, None, "Cette réservation est introuvable : elle a peut-être déjà été annulée."),
])
async def test_a_booked_unit_booking_refuses_to_cancel_is_said_in_french(backoffice, fake, status,
                                                                        detail, shown):
    route = f"/staff/reservations/{BOOKED_HUGO_MORNING}/cancel"
    fake.on("POST", "booking", route, problem(status, detail) if detail
            else httpx.Response(status, json={}))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, DAY_PATH)
        response = await client.post(DAY_PATH, data={
            "csrf": csrf, "action": f"annuler_reservation:{BOOKED_HUGO_MORNING}",
            f"nom-{BOOKED_HUGO_MORNING}": "Hugo Bernard (Accueil du matin)"})
    html = response.text
    assert response.status_code == status
    assert len(fake.sent("POST", "booking", route)) == 1
    # Still listed (the fake's day list): the message is by its button, linked from the top.
    assert (f'<a href="#annuler_reservation-{BOOKED_HUGO_MORNING}">'
            f"Hugo Bernard (Accueil du matin) : {shown}</a>") in html.replace("&#39;", "'")
    assert (f'<p id="annuler_reservation-{BOOKED_HUGO_MORNING}-erreur" class="field-error">'
            in html)
    assert f'aria-describedby="annuler_reservation-{BOOKED_HUGO_MORNING}-erreur"' in html
    assert '<tr class="row-invalid">\n      <th scope="row">Bernard Hugo</th>' in html


# --- roll call ----------------------------------------------------------------------------------

async def test_the_roll_call_is_one_line_per_child_with_large_choices(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(ROLL_CALL_PATH)
    html = response.text
    assert response.status_code == 200
    assert "<h1>Pointage : 6-8 ans Rémond, jeudi 20/10/2016</h1>" in html
    assert html.count('<fieldset class="roll-line') == 3  # two children, and the addition
    for label in ("Présent", "Absent justifié", "Absent non justifié"):
        assert f">{label}</label>" in html
    lea = html.split(f'name="statut-{CHILD_LEA}"')
    assert len(lea) == 4  # three choices for a booked child, none checked
    assert f'value="absent_justifie" checked' in html.split(CHILD_HUGO, 1)[1]
    hugo = html.split(f'id="motif-{CHILD_HUGO}"')[1].split("</select>")[0]
    assert '<option value="maladie" selected>Maladie (certificat)</option>' in hugo
    assert f'id="precision-{CHILD_HUGO}" name="precision-{CHILD_HUGO}" value="angine"' in html
    # The children of the group's validated registrations that are not on the list.
    adding = html.split('id="ajout"')[1].split("</select>")[0]
    assert f'<option value="{ZOE_CHILD}">Zoé Martin</option>' in adding
    assert "Léa" not in adding  # already on the roll call
    [sent] = fake.sent("GET", "enrolment", "/staff/registrations")
    assert dict(sent.url.params) == {"status": "validee", "period_id": PERIOD_ID,
                                     "group_id": GROUP_ID}
    assert 'value="enregistrer" class="button button-large">Enregistrer</button>' in html


async def test_recording_sends_the_records_with_the_reasons(backoffice, fake):
    fake.on("PUT", "booking", ROLL_CALL_API, ROLL_CALL)
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        response = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "enregistrer", f"statut-{CHILD_LEA}": "present",
            f"statut-{CHILD_HUGO}": "absent_justifie", f"motif-{CHILD_HUGO}": "rendez_vous",
            f"precision-{CHILD_HUGO}": "orthophoniste", "ajout": ZOE_CHILD})
        after = await client.get(response.headers["location"])
    assert response.status_code == 303
    [body] = sent_json(fake, "PUT", ROLL_CALL_API)
    assert body == {"records": [
        {"child_id": CHILD_LEA, "status": "present"},
        {"child_id": CHILD_HUGO, "status": "absent_justifie",
         "reason": "Rendez-vous médical : orthophoniste"},
        {"child_id": ZOE_CHILD, "status": "present_sans_reservation"}]}
    assert not fake.sent("POST", "booking", ROLL_CALL_API + "/lock")
    assert "Le pointage est enregistré." in after.text


async def test_a_justified_absence_needs_its_reason(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        response = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "enregistrer", f"statut-{CHILD_LEA}": "absent_justifie",
            f"statut-{CHILD_HUGO}": "absent_justifie", f"motif-{CHILD_HUGO}": "autre"})
        empty = await client.post(ROLL_CALL_PATH, data={"csrf": csrf, "action": "enregistrer"})
    html = response.text
    assert response.status_code == 422
    assert (f'<a href="#motif-{CHILD_LEA}">Léa Martin : Choisissez le motif de l&#39;absence '
            "justifiée.</a>") in html
    assert f'<a href="#precision-{CHILD_HUGO}">Hugo Bernard : Précisez le motif « Autre ».</a>' \
        in html
    assert f'value="absent_justifie" checked' in html.split(f'name="statut-{CHILD_LEA}"', 2)[2]
    assert "Indiquez au moins une présence ou une absence" in empty.text
    assert not fake.sent("PUT", "booking", ROLL_CALL_API)


async def test_locking_records_then_locks(backoffice, fake):
    fake.on("PUT", "booking", ROLL_CALL_API, ROLL_CALL)
    fake.on("POST", "booking", ROLL_CALL_API + "/lock", LOCKED_ROLL_CALL)
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        response = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "verrouiller", f"statut-{CHILD_LEA}": "present"})
    assert response.headers["location"] == f"{ROLL_CALL_PATH}?message=verrouille"
    assert sent_json(fake, "PUT", ROLL_CALL_API) == [
        {"records": [{"child_id": CHILD_LEA, "status": "present"}]}]
    [lock] = fake.sent("POST", "booking", ROLL_CALL_API + "/lock")
    assert lock.content == b""


async def test_recording_a_locked_roll_call_shows_the_409_in_french(backoffice, fake):
    locked = "Ce pointage est verrouillé : déverrouillez-le avec un motif pour le modifier."
    fake.on("PUT", "booking", ROLL_CALL_API, problem(409, locked))
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        response = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "enregistrer", f"statut-{CHILD_LEA}": "present"})
    assert response.status_code == 409
    assert f"<li>{locked}</li>" in response.text


@pytest.mark.parametrize("roles,who", [(("manager",), "l&#39;agent 70000000"),
                                       (("administrator",), "Dominique Dupré")])
async def test_a_locked_roll_call_is_read_only_with_who_and_when(backoffice, fake, roles, who):
    with_booking(fake).on("GET", "booking", ROLL_CALL_API, LOCKED_ROLL_CALL)
    fake.on("GET", "identity", "/staff/accounts", {"items": [
        {"id": STAFF_ID, "email": "d.dupre@ville.test", "display_name": "Dominique Dupré",
         "roles": ["manager"]}]})
    async with backoffice(fake) as client:
        sign_in(client, roles=roles)
        response = await client.get(ROLL_CALL_PATH)
    html = response.text
    assert f"Pointage verrouillé le 20/10/2016 18:05 par {who}." in html
    assert 'type="radio"' not in html and 'name="ajout"' not in html
    assert re.search(r"<th scope=\"row\">Petit Zoé</th>\s*<td>sans réservation</td>\s*"
                     r"<td>Présent sans réservation</td>", html)
    assert "<td>Rendez-vous médical</td>" in html
    assert 'value="deverrouiller"' in html and "Motif du déverrouillage (obligatoire)" in html
    assert not fake.sent("GET", "enrolment", "/staff/registrations")


async def test_unlocking_needs_a_reason_which_is_sent(backoffice, fake):
    with_booking(fake).on("GET", "booking", ROLL_CALL_API, LOCKED_ROLL_CALL)
    fake.on("POST", "booking", ROLL_CALL_API + "/unlock", ROLL_CALL)
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        refused = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "deverrouiller", "motif-deverrouillage": "  "})
        done = await client.post(ROLL_CALL_PATH, data={
            "csrf": csrf, "action": "deverrouiller",
            "motif-deverrouillage": "Oubli de Zoé, arrivée à 10 h"})
    assert refused.status_code == 422 and 'type="radio"' not in refused.text
    assert '<a href="#motif-deverrouillage">Saisissez le motif du déverrouillage.</a>' \
        in refused.text
    assert done.headers["location"] == f"{ROLL_CALL_PATH}?message=deverrouille"
    assert sent_json(fake, "POST", ROLL_CALL_API + "/unlock") == [
        {"reason": "Oubli de Zoé, arrivée à 10 h"}]


# --- shuttles -----------------------------------------------------------------------------------

async def test_shuttle_lines_show_their_stops_times_and_seats(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/navettes")
    html = response.text
    [sent] = fake.sent("GET", "booking", "/staff/shuttle-lines")
    assert dict(sent.url.params) == {"period_id": PERIOD_ID}
    assert f'<h2 id="ligne-{LINE_ID}" tabindex="-1">Ligne 1</h2>' in html
    assert "30 places assises." in html
    assert re.search(r'<th scope="row">Mairie</th>\s*<td>08:05</td>\s*<td>17:40</td>', html)
    assert re.search(r'<th scope="row">École Jules Ferry</th>\s*<td>08:20</td>\s*'
                     r"<td>Pas de passage</td>", html)
    assert f'href="{BASE}/navettes/{LINE_ID}/modifier"' in html


async def test_creating_a_line_sends_its_stops(backoffice, fake):
    fake.on("POST", "booking", "/staff/shuttle-lines", httpx.Response(201, json=CREATED))
    path = f"{BASE}/navettes/nouvelle"
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        form = await client.get(path)
        csrf = await csrf_of(client, path)
        response = await client.post(path, data={
            "csrf": csrf, "nom": "Ligne 2", "places": "25", "arrets": "3",
            "arret-0-nom": "Gare", "arret-0-matin": "7h50", "arret-0-soir": "",
            "arret-1-nom": "", "arret-2-nom": "Centre", "arret-2-soir": "18:10"})
    assert 'name="arrets" value="3"' in form.text
    assert response.headers["location"] == \
        f"{BASE}/navettes?message=ligne_creee#ligne-{LINE_ID}"
    assert sent_json(fake, "POST", "/staff/shuttle-lines") == [{
        "period_id": PERIOD_ID, "name": "Ligne 2", "seats": 25,
        "stops": [{"name": "Gare", "morning_time": "07:50:00"},
                  {"name": "Centre", "evening_time": "18:10:00"}]}]


async def test_editing_a_line_starts_from_it_and_puts_it_back(backoffice, fake):
    fake.on("PUT", "booking", f"/staff/shuttle-lines/{LINE_ID}", httpx.Response(204))
    path = f"{BASE}/navettes/{LINE_ID}/modifier"
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        form = (await client.get(path)).text
        csrf = await csrf_of(client, path)
        response = await client.post(path, data={
            "csrf": csrf, "nom": "Ligne 1", "places": "28", "arrets": "2",
            "arret-0-nom": "Mairie", "arret-0-matin": "08:05", "arret-0-soir": "17:40",
            "arret-1-nom": "École Jules Ferry", "arret-1-matin": "08:20"})
        unknown = await client.get(f"{BASE}/navettes/{WAIT_ZOE}/modifier")
    assert "<h1>Modifier la ligne « Ligne 1 »</h1>" in form
    assert 'id="arret-1-matin" name="arret-1-matin" type="text" value="08:20"' in form
    assert 'name="arrets" value="5"' in form  # two stops and three empty rows
    assert response.headers["location"] == \
        f"{BASE}/navettes?message=ligne_modifiee#ligne-{LINE_ID}"
    [body] = sent_json(fake, "PUT", f"/staff/shuttle-lines/{LINE_ID}")
    assert body["seats"] == 28 and len(body["stops"]) == 2
    assert unknown.status_code == 404


async def test_line_errors_are_french_by_their_fields(backoffice, fake):
    taken = "12 places sont déjà réservées sur cette ligne : il faut au moins 12 places."
    fake.on("PUT", "booking", f"/staff/shuttle-lines/{LINE_ID}", problem(409, taken))
    path = f"{BASE}/navettes/{LINE_ID}/modifier"
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, path)
        local = await client.post(path, data={
            "csrf": csrf, "nom": "", "places": "0", "arrets": "2", "arret-0-nom": "",
            "arret-0-matin": "8h", "arret-1-nom": "Gare", "arret-1-soir": "25:00"})
        conflict = await client.post(path, data={
            "csrf": csrf, "nom": "Ligne 1", "places": "5", "arrets": "1",
            "arret-0-nom": "Mairie", "arret-0-matin": "08:05"})
    html = local.text
    assert local.status_code == 422
    for field_id, message in (("nom", "Saisissez le nom de la ligne."),
                              ("places", "Saisissez un nombre de places entre 1 et 200."),
                              ("arret-0-nom", "Saisissez le nom de l&#39;arrêt."),
                              ("arret-1-soir", "Saisissez l&#39;heure au format HH:MM.")):
        assert f'<a href="#{field_id}">{message}</a>' in html
    assert len(fake.sent("PUT", "booking", f"/staff/shuttle-lines/{LINE_ID}")) == 1
    assert conflict.status_code == 409
    assert f'<a href="#places">{taken}</a>' in conflict.text


async def test_locking_needs_every_child_pointed_said_by_each_line(backoffice, fake):
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, ROLL_CALL_PATH)
        response = await client.post(ROLL_CALL_PATH, data={"csrf": csrf, "action": "verrouiller"})
    assert response.status_code == 422
    # Léa has no presence yet; Hugo's was recorded before.
    assert (f'<a href="#statut-{CHILD_LEA}">Léa Martin : Choisissez sa présence avant de '
            "verrouiller le pointage.</a>") in response.text
    assert f'href="#statut-{CHILD_HUGO}"' not in response.text
    assert not [r for r in fake.requests if r.method in ("PUT", "POST")]


async def test_a_stop_with_bookings_is_said_by_that_stop(backoffice, fake):
    booked = ("L'arrêt « École Jules Ferry » a des réservations (retour) : annulez-les avant "
              "de retirer cet horaire.")
    fake.on("PUT", "booking", f"/staff/shuttle-lines/{LINE_ID}", problem(409, booked))
    path = f"{BASE}/navettes/{LINE_ID}/modifier"
    async with backoffice(with_booking(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, path)
        response = await client.post(path, data={
            "csrf": csrf, "nom": "Ligne 1", "places": "30", "arrets": "3",
            "arret-0-nom": "Mairie", "arret-0-matin": "08:05",
            "arret-1-nom": "École Jules Ferry", "arret-1-matin": "08:20",
            "arret-2-nom": "Gare"})
        conflict = await client.post(path, data={
            "csrf": csrf, "nom": "Ligne 1", "places": "30", "arrets": "2",
            "arret-0-nom": "Mairie", "arret-0-matin": "08:05",
            "arret-1-nom": "École Jules Ferry", "arret-1-matin": "08:20"})
    assert response.status_code == 422  # « Gare » has no time: nothing sent
    assert ('<a href="#arret-2-matin">Saisissez au moins une heure de passage (matin ou soir).'
            "</a>") in response.text
    assert conflict.status_code == 409
    assert '<a href="#arret-1-nom">L&#39;arrêt « École Jules Ferry » a des réservations' \
        in conflict.text


async def test_occupancy_before_the_calendar_exists_says_so(backoffice, fake):
    async with backoffice(with_booking(fake, calendar=None)) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/occupation")
    assert response.status_code == 200
    assert ("n&#39;est pas encore défini : il n&#39;y a pas encore d&#39;occupation"
            in response.text)
    assert f'<a href="{CALENDAR_PATH}">Définir le calendrier</a>' in response.text
    assert not fake.sent("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy")


async def test_a_range_booking_refuses_is_said_in_french(backoffice, fake):
    refused = "Choisissez une plage d'au plus 366 jours."
    with_booking(fake).on("GET", "booking", f"/staff/calendars/{PERIOD_ID}/occupancy",
                          problem(422, refused))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(f"{BASE}/occupation?du=01/01/2016&au=31/12/2017")
    assert response.status_code == 422
    assert f"<li>{refused}</li>".replace("'", "&#39;") in response.text
    assert "<img" not in response.text


async def test_a_day_outside_the_period_is_said_by_the_day_field(backoffice, fake):
    outside = "Le 05/11/2016 est en dehors de la période « Automne 2016 »."
    with_booking(fake)
    for path in (f"/staff/calendars/{PERIOD_ID}/days/2016-11-05/children",
                 f"/staff/calendars/{PERIOD_ID}/days/2016-11-05/waiting-list"):
        fake.on("GET", "booking", path, problem(422, outside))
    async with backoffice(fake) as client:
        sign_in(client)
        picked = await client.get(f"{BASE}/jours?date=05/11/2016")
        direct = await client.get(f"{BASE}/jours/2016-11-05")
    assert picked.status_code == 422
    assert ('<a href="#jour">Choisissez un jour de la période, entre le 20/10/2016 et le '
            "03/11/2016.</a>") in picked.text
    assert direct.status_code == 422
    assert f'<a href="#jour">{outside}</a>' in direct.text
    assert 'id="jour" name="date" type="text" value="05/11/2016"' in direct.text
