"""« Ouverture en direct »: staff watch an opening live, per group and in total."""

from __future__ import annotations

import re

from .conftest import sign_in
from .enrolment_sample import CATALOGUE, FULL_GROUP_ID, OPENING, PERIOD_ID

PATH = f"/catalogue/periodes/{PERIOD_ID}/ouverture"


def cells(html: str, label: str) -> list[str]:
    row = re.search(rf"<tr>\s*<th scope=\"row\">(?:<a [^>]+>)?{label}.*?</tr>", html, re.S)[0]
    return re.findall(r"<td>(\d+)</td>", row)


async def test_the_opening_page_shows_each_group_live_and_reloads_itself(backoffice, fake):
    fake.on("GET", "enrolment", f"/staff/openings/{PERIOD_ID}", OPENING)
    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(PATH)
        catalogue = await client.get("/catalogue")
    html = page.text
    assert page.status_code == 200
    assert "<h1>Ouverture en direct – Automne 2016</h1>" in html
    assert '<meta http-equiv="refresh" content="5">' in html
    # capacity, received, decided, queued, places left, waitlisted
    assert cells(html, "6-8 ans") == ["24", "180", "150", "30", "0", "126"]
    assert cells(html, "9-11 ans") == ["12", "40", "40", "0", "0", "28"]
    assert cells(html, "Total") == ["36", "220", "190", "30", "0", "154"]
    assert f'href="/groupes/{FULL_GROUP_ID}/liste-attente"' in html
    assert f'href="{PATH}"' in catalogue.text  # reached from the catalogue's period


async def test_a_malformed_period_is_a_404_without_asking_enrolment(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get("/catalogue/periodes/pas-un-id/ouverture")
    assert page.status_code == 404
