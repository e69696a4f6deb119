"""« Mes réservations » (the month grid, « Valider » / « Annuler », « Affecter les Groupes »,
« Réservation selon une semaine type »), « Liste d'attente », « Mes navettes », the calendar
(ICS) and its subscription, and booking on « Mon tableau de bord », against the fake booking.

The grid is a form of checkboxes (no JavaScript): posting sends only the cells that changed.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from marelle_gateway.rendering import STATIC_DIR

from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef

Y = ef.YEAR
BASE = f"/mes-inscriptions/{ef.R_VALID}"
GRID = f"{BASE}/reservations"
FAMILY = f"/families/{ef.FAMILY_ID}"
UPSTREAM = f"{FAMILY}/registrations/{ef.R_VALID}"
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def long_day(day) -> str:
    """« mardi 20 octobre », as Babel writes it in French."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def cell(html: str, day, unit: str) -> str:
    """The grid cell of `day` × `unit`: its <td> (checkbox, label, hidden initial state)."""
    match = re.search(rf'<td class="cell [^"]*">\s*<input type="checkbox" id="case-{day}-{unit}"'
                      r".*?</td>", html, re.S)
    assert match, (day, unit)
    return match[0]


def main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


async def get(portal, fake, gw, path: str, **headers: str) -> httpx.Response:
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        return await client.get(path, headers=headers)


async def post(portal, fake, gw, path: str, data: dict, *, csrf: bool = True,
               **headers: str) -> httpx.Response:
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        return await client.post(path, data=gw.with_csrf(client, data) if csrf else data,
                                 headers=headers)


def booked_form(html: str) -> dict[str, list[str]]:
    """What a browser sends for the grid as it is: the checked enabled boxes, the hidden
    initial state (disabled boxes are never sent)."""
    checked = re.findall(r'<input type="checkbox" id="[^"]+" name="cases" value="([^"]+)" '
                         r"checked>", html)
    initial = re.findall(r'<input type="hidden" name="initial" value="([^"]+)">', html)
    return {"cases": checked, "initial": initial, "mois": f"{Y}-10"}


# --- The grid ---------------------------------------------------------------------------------

async def test_the_grid_reads_as_in_the_guide(portal, fake, booking, gw):
    response = await get(portal, fake, gw, GRID)
    html = main(response.text)
    assert response.status_code == 200
    assert "<h1>Mes réservations</h1>" in html
    assert f'<a href="{GRID}" aria-current="page">Mes réservations</a>' in html
    # The guide's header: Equipement, Libellé, dates, Groupe.
    assert (f"Equipement : CENTRE DE LOISIRS ALSH Libellé : AUTOMNE - Automne {Y} Date début : "
            f"20/10/{Y} Date fin : 03/11/{Y} Groupe : 6-8 ans Rémond") in text(html)
    # The memo and its weeks.
    memo = text(html[html.index('<section class="memo-box"'):html.index("</section>")])
    assert memo.startswith("MEMO : Informations réservation Attention les inscriptions sont a "
                           "la semaine: Sem 1 : 20 et 21 octobre")
    assert f"Sem 1 : 20 et 21 octobre {Y} Sem 2 : du lundi au vendredi" in memo
    # « Choix du Groupe »: the registration's group first, selected.
    assert '<label for="groupe">Choix du Groupe</label>' in html
    assert (f'<option value="{ef.GROUP_68}" selected>6-8 ans Rémond (groupe de '
            "l&#39;inscription)</option>") in html
    assert f'<a href="{GRID}/groupes?mois={Y}-10">Affecter les Groupes</a>' in html
    assert (f'<a href="{GRID}/semaine-type?mois={Y}-10">Réservation selon une semaine '
            "type</a>") in html
    # A table with a caption, days 01–31 with the weekday letter and its full name.
    assert f'<caption id="grille-titre">Réservations de Léa – octobre {Y}</caption>' in html
    heads = re.findall(r'<th scope="col" class="grid-day[^"]*"><abbr title="([^"]+)">(.)</abbr>'
                       r'<span class="day-number">(\d\d)</span></th>', html)
    assert [d for _, _, d in heads] == [f"{n:02d}" for n in range(1, 32)]
    first = bf.START
    assert heads[19] == (WEEKDAYS[first.weekday()].capitalize(), "LMMJVSD"[first.weekday()],
                         "20")
    # One row per unit, under « Accueils », « Suppléments », « Journée ».
    groups = re.findall(r'<th scope="rowgroup" colspan="32">(.*?)</th>', html)
    assert groups == ["Accueils", "Suppléments", "Journée"]
    assert re.findall(r'<th scope="row">(.*?)</th>', html) == [
        "Accueil matin", "Accueil soir", "Repas", "Journée complète"]
    assert "<script" not in response.text


async def test_each_cell_says_its_state_and_why_it_cannot_change(portal, fake, booking, gw):
    html = (await get(portal, fake, gw, GRID)).text
    free = cell(html, bf.OPEN[5], "soir")
    assert "disabled" not in free and "checked" not in free
    assert f"Accueil soir, {long_day(bf.OPEN[5])} : Libre</span>" in free
    booked = cell(html, bf.SHUTTLE_FULL, "journee")
    assert " checked>" in booked and "disabled" not in booked
    assert f"Journée complète, {long_day(bf.SHUTTLE_FULL)} : Réservé" in booked
    # The initial state rides along, for the enabled boxes only.
    assert f'<input type="hidden" name="initial" value="{bf.SHUTTLE_FULL}|journee">' in booked
    waiting = cell(html, bf.WAITING, "journee")
    assert " checked>" in waiting
    assert '<span class="cell-mark" aria-hidden="true">n° 3</span>' in waiting
    assert "Journée complète" in waiting and "liste d&#39;attente n° 3" in waiting
    full = cell(html, bf.FULL_DAY, "journee")
    assert "disabled" not in full and "Complet (liste d&#39;attente)" in full
    # Past, beyond the deadline, closed: not clickable, and the reason in words.
    past = cell(html, bf.OPEN[0], "journee")
    assert "disabled" in past and " checked " in past.replace("checked disabled", " checked ")
    assert "name=\"initial\"" not in past
    assert "Non modifiable : Jour passé" in past
    late = cell(html, bf.TOO_LATE, "matin")
    assert "disabled" in late
    assert "Non modifiable : Délai de réservation dépassé (la veille à 15 h)." in late
    late_booked = cell(html, bf.TOO_LATE, "journee")
    assert "checked disabled" in late_booked
    assert "Délai d&#39;annulation dépassé (la veille à 15 h)." in late_booked
    closed = cell(html, f"{Y}-10-31", "repas")
    assert "disabled" in closed and "Fermé. Non modifiable :" in closed
    reasons = text(html[html.index('<ul class="reason-list">'):]).replace(" ,", ",")
    assert "Hors période : jours 01, 02" in reasons
    assert ("Délai de réservation dépassé (la veille à 15 h). : jours "
            f"{bf.TODAY.day:02d}, {bf.TOO_LATE.day:02d}") in reasons
    # Every checkbox has its own label.
    boxes = re.findall(r'<input type="checkbox" id="([^"]+)" name="cases"', html)
    labels = re.findall(r'<label for="(case-[^"]+)">', html)
    assert boxes == labels and len(boxes) == 31 * 4


async def test_previous_and_next_month(portal, fake, booking, gw):
    october = (await get(portal, fake, gw, GRID)).text
    assert f'<a href="?mois={Y}-11" rel="next">Mois suivant : novembre {Y} →</a>' in october
    assert 'rel="prev"' not in october
    november = (await get(portal, fake, gw, f"{GRID}?mois={Y}-11")).text
    assert f'<a href="?mois={Y}-10" rel="prev">← Mois précédent : octobre {Y}</a>' in november
    assert f"Réservations de Léa – novembre {Y}" in november
    assert "Jour férié (Toussaint)" in november
    assert [r.url.params.get("month") for r in fake.sent("GET", f"{UPSTREAM}/calendar",
                                                          "booking")] == [None, f"{Y}-11"]


async def test_a_malformed_month_is_not_forwarded(portal, fake, booking, gw):
    response = await get(portal, fake, gw, f"{GRID}?mois=2026-13")
    assert response.status_code == 200
    [sent] = fake.sent("GET", f"{UPSTREAM}/calendar", "booking")
    assert "month" not in sent.url.params


# --- « Valider » ----------------------------------------------------------------------------

async def test_valider_sends_exactly_the_changed_cells_and_shows_each_result(portal, fake,
                                                                            booking, gw):
    form = booked_form((await get(portal, fake, gw, GRID)).text)
    assert sorted(form["initial"]) == sorted([
        f"{bf.SHUTTLE_FULL}|journee", f"{bf.SHUTTLE_FULL}|repas", f"{bf.GROUP_FULL}|matin",
        f"{bf.WAITING}|journee"])
    form["cases"].remove(f"{bf.SHUTTLE_FULL}|repas")  # unticked → annuler
    form["cases"] += [f"{bf.OPEN[5]}|soir", f"{bf.FULL_DAY}|journee",  # ticked → reserver
                      f"{bf.TOO_LATE}|matin"]  # (a stale page: booking refuses it)
    response = await post(portal, fake, gw, GRID, form)
    assert response.status_code == 200
    assert booking.posted["reservations"] == [{"changes": [
        {"day": str(bf.TOO_LATE), "unit": "matin", "action": "reserver", "group_id": None},
        {"day": str(bf.FULL_DAY), "unit": "journee", "action": "reserver", "group_id": None},
        {"day": str(bf.SHUTTLE_FULL), "unit": "repas", "action": "annuler", "group_id": None},
        {"day": str(bf.OPEN[5]), "unit": "soir", "action": "reserver", "group_id": None},
    ]}]
    html = main(response.text)
    results = text(html[html.index('<section class="results"'):html.index("</section>")])
    assert results.startswith("Résultat de vos réservations Réservés : 1 – En liste d'attente : "
                              "1 – Annulés : 1 – Refusés : 1".replace("'", "&#39;"))
    assert (f"{long_day(bf.TOO_LATE)} – Accueil matin : ✗ Refusé : Délai de réservation "
            "dépassé (la veille à 15 h).") in results
    assert (f"{long_day(bf.FULL_DAY)} – Journée complète : … Liste d&#39;attente, position 2"
            in results)
    assert f"{long_day(bf.SHUTTLE_FULL)} – Repas : – Annulé" in results
    assert f"{long_day(bf.OPEN[5])} – Accueil soir : ✓ Réservé" in results
    # Above the grid, which shows the new state.
    assert html.index('<section class="results"') < html.index('<table class="booking-grid">')
    assert " checked>" in cell(html, bf.OPEN[5], "soir")
    assert " checked>" not in cell(html, bf.SHUTTLE_FULL, "repas")


async def test_valider_without_change_sends_nothing(portal, fake, booking, gw):
    form = booked_form((await get(portal, fake, gw, GRID)).text)
    response = await post(portal, fake, gw, GRID, form)
    assert response.status_code == 200
    assert "Aucune case n&#39;a été modifiée : rien n&#39;a été envoyé." in response.text
    assert "reservations" not in booking.posted


async def test_the_chosen_group_goes_with_new_bookings_only(portal, fake, booking, gw):
    await post(portal, fake, gw, GRID, {
        "cases": [f"{bf.OPEN[5]}|soir"], "initial": [f"{bf.GROUP_FULL}|matin"],
        "groupe": ef.GROUP_911, "mois": f"{Y}-10"})
    assert booking.posted["reservations"] == [{"changes": [
        {"day": str(bf.GROUP_FULL), "unit": "matin", "action": "annuler", "group_id": None},
        {"day": str(bf.OPEN[5]), "unit": "soir", "action": "reserver",
         "group_id": ef.GROUP_911}]}]


async def test_tampered_cells_are_dropped_not_forwarded(portal, fake, booking, gw):
    await post(portal, fake, gw, GRID, {
        "cases": ["pas-une-date|soir", f"{bf.OPEN[5]}|<script>", f"{bf.OPEN[5]}|soir"]})
    assert booking.posted["reservations"] == [{"changes": [
        {"day": str(bf.OPEN[5]), "unit": "soir", "action": "reserver", "group_id": None}]}]


async def test_a_refusal_of_the_whole_request_is_shown_on_the_page(portal, fake, booking, gw):
    booking.may_modify = False
    response = await post(portal, fake, gw, GRID, {"cases": [f"{bf.OPEN[5]}|soir"]})
    assert response.status_code == 409
    assert 'role="alert"' in response.text
    assert "La structure ne permet pas de modifier les réservations en ligne" in response.text
    assert '<table class="booking-grid">' in response.text


async def test_valider_without_csrf_is_refused_and_not_sent(portal, fake, booking, gw):
    response = await post(portal, fake, gw, GRID, {"cases": [f"{bf.OPEN[5]}|soir"]},
                          csrf=False)
    assert response.status_code == 403 and "Formulaire expiré" in response.text
    foreign = await post(portal, fake, gw, GRID, {"cases": [f"{bf.OPEN[5]}|soir"]},
                         origin="https://ailleurs.example")
    assert foreign.status_code == 403
    assert "reservations" not in booking.posted
    assert not fake.sent("POST", f"{UPSTREAM}/reservations", "booking")


async def test_the_annuler_button_reloads_without_change(portal, fake, booking, gw):
    html = (await get(portal, fake, gw, f"{GRID}?mois={Y}-11")).text
    assert (f'<a class="button button-secondary" href="{GRID}?mois={Y}-11">Annuler</a>'
            in html)
    assert '<button type="submit" class="button">Valider</button>' in html


async def test_another_familys_registration_is_a_404(portal, fake, booking, gw):
    other = str(uuid.uuid4())
    for path in (f"/mes-inscriptions/{other}/reservations",
                 f"/mes-inscriptions/{other}/reservations/semaine-type",
                 f"/mes-inscriptions/{other}/navettes"):
        response = await get(portal, fake, gw, path)
        assert response.status_code == 404 and "Page introuvable" in response.text
    response = await post(portal, fake, gw, f"/mes-inscriptions/{other}/reservations",
                          {"cases": [f"{bf.OPEN[5]}|soir"]})
    assert response.status_code == 404
    assert not [r for r in fake.requests if r.url.port == 8103]


async def test_booking_answering_404_is_a_404_page(portal, fake, booking, gw):
    fake.on("GET", f"{UPSTREAM}/calendar",
            gw.problem(404, "Cette inscription est introuvable."), service="booking")
    response = await get(portal, fake, gw, GRID)
    assert response.status_code == 404 and "Page introuvable" in response.text


async def test_booking_not_knowing_the_validation_yet_says_so(portal, fake, booking, gw):
    fake.on("GET", f"{UPSTREAM}/calendar", gw.problem(
        409, "Les réservations ne sont possibles que sur une inscription validée."),
        service="booking")
    for path in (GRID, f"{GRID}/semaine-type", f"{BASE}/navettes"):
        response = await get(portal, fake, gw, path)
        assert response.status_code == 409, path
        html = main(response.text)
        assert "Le calendrier de cette inscription n&#39;est pas disponible pour le moment." \
            in html
        assert "Les réservations ne sont possibles que sur une inscription validée." in html
        assert "<form" not in html


async def test_booking_down_is_a_french_503(portal, fake, enrolment, gw):
    fake.serve("booking", gw.all_down)
    response = await get(portal, fake, gw, GRID)
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text


def test_the_grid_scrolls_inside_its_region_with_a_sticky_first_column():
    css = (STATIC_DIR / "portal.css").read_text()
    assert re.search(r"\.table-wrap \{ overflow-x: auto;", css)
    rule = css[css.index('.booking-grid th[scope="row"]'):]
    assert "position: sticky; left: 0;" in rule[:rule.index("}")]


# --- « Affecter les Groupes » ------------------------------------------------------------

async def test_assigning_groups_offers_the_booked_days_and_sends_them(portal, fake, booking, gw):
    html = main((await get(portal, fake, gw, f"{GRID}/groupes")).text)
    assert "<h2>Affecter les Groupes</h2>" in html
    days = re.findall(r'<input type="checkbox" id="jours[^"]*" name="jours" value="([^"]+)"',
                      html)
    # Booked or waiting, not past.
    assert days == sorted({str(d) for d in (bf.TOO_LATE, bf.SHUTTLE_FULL, bf.GROUP_FULL,
                                            bf.WAITING)})
    response = await post(portal, fake, gw, f"{GRID}/groupes", {
        "jours": [str(bf.GROUP_FULL), str(bf.SHUTTLE_FULL), "2000-01-01"],
        "groupe": ef.GROUP_911, "mois": f"{Y}-10"})
    assert response.status_code == 200
    assert booking.posted["group-assignments"] == [
        {"group_id": ef.GROUP_911, "days": [str(bf.SHUTTLE_FULL), str(bf.GROUP_FULL)]}]
    results = text(main(response.text))
    assert "Affectation au groupe 9-11 ans Affectés : 2 – Refusés : 1" in results
    assert (f"{long_day(bf.GROUP_FULL)} – Accueil matin : ✗ Refusé : Le groupe 9-11 ans est "
            "complet ce jour-là.") in results
    assert (f"{long_day(bf.SHUTTLE_FULL)} – Journée complète : ✓ Groupe affecté Groupe : 9-11 "
            "ans.") in results


async def test_assigning_groups_needs_days_and_a_group(portal, fake, booking, gw):
    response = await post(portal, fake, gw, f"{GRID}/groupes", {"groupe": "x"})
    assert response.status_code == 422
    assert 'href="#jours">Cochez au moins un jour réservé.' in response.text
    assert 'href="#groupe">Choisissez un groupe de la période.' in response.text
    assert "group-assignments" not in booking.posted


# --- « Réservation selon une semaine type » ----------------------------------------------

async def test_the_typical_week_form_is_prefilled(portal, fake, booking, gw):
    html = main((await get(portal, fake, gw, f"{GRID}/semaine-type")).text)
    assert "<h2>Réservation selon une semaine type</h2>" in html
    # The period (or the rest of it: the period is ahead of today here).
    assert f'id="debut" name="debut" type="date" value="{bf.START}"' in html
    assert f'id="fin" name="fin" type="date" value="{bf.END}"' in html
    # The registration's typical week: Monday « journee », Wednesday « matin » + « repas ».
    checked = re.findall(r'name="(jour-\d)" value="([a-z]+)" checked', html)
    assert checked == [("jour-1", "journee"), ("jour-3", "matin"), ("jour-3", "repas")]
    legends = re.findall(r"<legend>(.*?)</legend>", html)
    assert legends == ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi"]


async def test_applying_a_typical_week_shows_a_summary_and_the_details(portal, fake, booking,
                                                                       gw):
    response = await post(portal, fake, gw, f"{GRID}/semaine-type", {
        "debut": f"20/10/{Y}", "fin": str(bf.END), "jour-1": ["journee", "inconnue"],
        "jour-5": ["soir"], "groupe": ef.GROUP_68, "mois": f"{Y}-10"})
    assert response.status_code == 200
    [sent] = booking.posted["typical-week"]
    assert sent == {"start": str(bf.START), "end": str(bf.END), "group_id": None,
                    "days": [{"weekday": 1, "units": ["journee"]},
                             {"weekday": 5, "units": ["soir"]}]}
    html = main(response.text)
    section = html[html.index('<section class="results"'):html.index("</section>")]
    assert f"Semaine type appliquée du 20/10/{Y} au 03/11/{Y}" in section
    assert "Réservés :" in text(section) and "Refusés :" in text(section)
    assert "<details><summary>Voir le détail jour par jour</summary>" in section
    assert len(re.findall(r'<li class="outcome">', section)) == len(
        [d for d in bf.OPEN if d.isoweekday() in (1, 5)])


async def test_a_typical_week_with_bad_dates_or_no_unit_is_refused_here(portal, fake, booking,
                                                                        gw):
    response = await post(portal, fake, gw, f"{GRID}/semaine-type", {
        "debut": str(bf.END), "fin": str(bf.START)})
    assert response.status_code == 422
    assert "La date de fin doit être postérieure à la date de début." in response.text
    assert "Cochez au moins une prestation pour un jour de la semaine." in response.text
    assert "typical-week" not in booking.posted


# --- « Liste d'attente » ------------------------------------------------------------------

async def test_the_waiting_list_page_lists_the_familys_waiting_days(portal, fake, booking, gw):
    html = main((await get(portal, fake, gw, f"{BASE}/liste-attente")).text)
    assert "<h2 id=\"jours-attente\">Jours en liste d&#39;attente</h2>" in html
    rows = [text(r) for r in re.findall(r"<tr>(.*?)</tr>", html[html.index("<tbody>"):], re.S)]
    assert rows == [f"Léa Automne {Y} 6-8 ans Rémond {long_day(bf.WAITING)} {Y} Journée "
                    "complète … n° 3"]
    assert f'<time datetime="{bf.WAITING}">' in html
    [asked] = fake.sent("GET", f"{FAMILY}/waiting-days", "booking")
    assert asked.headers["authorization"].startswith("Bearer ")


async def test_a_registration_not_validated_does_not_ask_booking(portal, fake, booking, gw):
    html = (await get(portal, fake, gw, f"/mes-inscriptions/{ef.R_WAIT}/liste-attente")).text
    assert "Jours en liste d&#39;attente" not in html
    assert not fake.sent("GET", f"{FAMILY}/waiting-days", "booking")


async def test_the_sub_menu_links_bookings_for_a_validated_registration_only(portal, fake,
                                                                             booking, gw):
    html = (await get(portal, fake, gw, "/mes-inscriptions")).text
    assert f'<a href="{GRID}">Mes réservations' in html
    assert f'<a href="{BASE}/navettes">Mes navettes' in html
    pending = f"/mes-inscriptions/{ef.R_PENDING}"
    assert f'href="{pending}/reservations"' not in html
    assert f'href="{pending}/navettes"' not in html
    assert f'href="{pending}/liste-attente"' in html
    assert "Mes réservations <span class=\"hint-inline\">(après validation)</span>" in html


# --- « Mes navettes » -----------------------------------------------------------------------

async def test_shuttles_show_lines_bookings_and_a_form_on_booked_days(portal, fake, booking, gw):
    html = main((await get(portal, fake, gw, f"{BASE}/navettes")).text)
    assert "<h1>Mes navettes</h1>" in html
    assert "Ligne 1 – 20 places" in html
    assert "<th scope=\"row\">Mairie</th><td>08:05</td><td>17:40</td>" in html
    assert f"{long_day(bf.GROUP_FULL)} Matin (aller) Ligne 1 Mairie 08:05" in text(html)
    assert f'<option value="{bf.STOP_SCHOOL}">École Jules Ferry</option>' in html
    days = re.findall(r'name="jours" value="([^"]+)"', html)
    # Booked (not waiting), not past.
    assert days == sorted({str(d) for d in (bf.TOO_LATE, bf.SHUTTLE_FULL, bf.GROUP_FULL)})


async def test_booking_a_shuttle_shows_seats_full_refusals(portal, fake, booking, gw):
    response = await post(portal, fake, gw, f"{BASE}/navettes", {
        "arret": bf.STOP_TOWN_HALL, "sens": ["aller", "retour"],
        "jours": [str(bf.SHUTTLE_FULL), str(bf.TOO_LATE)], "mois": f"{Y}-10"})
    assert response.status_code == 200
    assert booking.posted["shuttles"] == [{
        "stop_id": bf.STOP_TOWN_HALL, "directions": ["aller", "retour"],
        "days": [str(bf.TOO_LATE), str(bf.SHUTTLE_FULL)], "action": "reserver"}]
    results = text(main(response.text))
    assert (f"{long_day(bf.SHUTTLE_FULL)} – Matin (aller) : ✗ Refusé : Plus de place dans la "
            "navette ce jour-là (20 places).") in results
    assert f"{long_day(bf.TOO_LATE)} – Soir (retour) : ✓ Enregistré" in results


async def test_a_shuttle_form_without_stop_direction_or_day_is_refused_here(portal, fake,
                                                                            booking, gw):
    response = await post(portal, fake, gw, f"{BASE}/navettes", {"arret": "x"})
    assert response.status_code == 422
    for anchor, message in (("arret", "Choisissez un arrêt."),
                            ("sens", "Cochez le matin, le soir, ou les deux."),
                            ("jours", "Cochez au moins un jour.")):
        assert f'<a href="#{anchor}">{message}</a>' in response.text
    assert "shuttles" not in booking.posted


# --- The calendar (ICS) -------------------------------------------------------------------

async def test_the_calendar_is_downloaded_through_the_portal(portal, fake, booking, gw):
    response = await get(portal, fake, gw, f"{BASE}/calendrier.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["content-disposition"] == (
        'attachment; filename="reservations-lea.ics"')
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content == bf.ICS_BODY
    [asked] = fake.sent("GET", f"{FAMILY}/children/{ef.LEA}/reservations.ics", "booking")
    assert asked.headers["authorization"].startswith("Bearer ")


async def test_subscribing_shows_a_private_url_served_by_the_portal(portal, fake, booking, gw):
    response = await post(portal, fake, gw, f"{BASE}/abonnement", {})
    assert response.status_code == 200
    url = f"http://portail.test/calendrier/{booking.feed_token}.ics"
    assert f'readonly value="{url}"' in response.text
    assert "Gardez cette adresse pour vous" in response.text
    async with portal(fake) as client:  # a phone: no session at all
        feed = await client.get(f"/calendrier/{booking.feed_token}.ics")
        assert feed.status_code == 200 and feed.content == bf.ICS_BODY
        assert feed.headers["content-type"].startswith("text/calendar")
        [asked] = fake.sent("GET", f"/calendar-feeds/{booking.feed_token}.ics", "booking")
        assert "authorization" not in asked.headers
        assert (await client.get(f"/calendrier/{bf.FEED_TOKEN}.ics")).status_code == 404
        before = len(fake.requests)
        assert (await client.get("/calendrier/court.ics")).status_code == 404
        assert (await client.get(f"/calendrier/{booking.feed_token}")).status_code == 404
        assert len(fake.requests) == before


async def test_the_subscription_url_uses_the_public_address(portal, fake, booking, gw):
    from marelle_gateway.config import GatewaySettings

    settings = GatewaySettings(public_url="https://famille.ville.fr")
    async with portal(fake, settings=settings) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.post(f"{BASE}/abonnement", data=gw.with_csrf(client),
                                     headers={"origin": "https://famille.ville.fr"})
    assert f'value="https://famille.ville.fr/calendrier/{booking.feed_token}.ics"' \
        in response.text


async def test_subscribing_without_csrf_is_refused(portal, fake, booking, gw):
    token = booking.feed_token
    response = await post(portal, fake, gw, f"{BASE}/abonnement", {}, csrf=False)
    assert response.status_code == 403 and booking.feed_token == token


# --- « Mon tableau de bord » ------------------------------------------------------------------

async def test_bookings_reservations_appear_on_the_dashboard(portal, fake, booking, gw):
    html = (await get(portal, fake, gw, "/tableau-de-bord")).text
    body = text(html[html.index("<tbody>"):html.index("</tbody>")])
    assert f"Réservation de Léa : Journée complète, {bf.WAITING:%d/%m/%Y} ? Liste d&#39;attente" \
        in body
    assert f"Réservation de Léa : Repas, {bf.SHUTTLE_FULL:%d/%m/%Y} ✓ Réservée" in body
    assert "Historique des réservations momentanément indisponible" not in html


@pytest.mark.parametrize("path", [f"{GRID}", f"{BASE}/navettes", f"{BASE}/calendrier.ics"])
async def test_booking_pages_need_a_session(portal, fake, booking, gw, path):
    async with portal(fake) as client:
        response = await client.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/?suite=")
