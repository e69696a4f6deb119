"""« Ouvertures des inscriptions » with district openings (issue #10, districts at different
times): the page says when the family's own district may send, before the opening to all, and
counts down to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from gateway.tests import enrolment_fake as ef
from marelle_gateway.i18n import Translator

PATH = "/mes-inscriptions/ouvertures"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _soon(opens_in: timedelta, district_in: timedelta | None) -> object:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return ef.OPENING.model_copy(update={
        "opens_at": now + opens_in, "closes_at": now + timedelta(days=20),
        "priority_opens_at": None, "residents_open_at": None,
        "district_label": "Nord" if district_in is not None else None,
        "district_opens_at": now + district_in if district_in is not None else None,
        "open_now": False})


async def test_the_household_district_opening_is_shown_and_counted_down_to(portal, fake,
                                                                           enrolment, gw,
                                                                           monkeypatch):
    opening = _soon(timedelta(days=3), timedelta(days=1))
    monkeypatch.setattr(ef, "OPENING", opening)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get(PATH)
        client.cookies.set("marelle_lang", "en", domain=client.base_url.host)
        english = await client.get(PATH)
    assert page.status_code == 200
    html = text(page.text)
    t = Translator("fr")
    assert text(t("openings.district", district="Nord", at=t.datetime(opening.district_opens_at),
                  all=t.datetime(opening.opens_at))) in html
    assert "Les familles de votre quartier (Nord)" in html
    # The countdown goes to the district's opening, not to the opening to all.
    assert "dans 1 j" in html or "dans 23 h" in html, html
    en = Translator("en")
    assert text(en("openings.district", district="Nord",
                   at=en.datetime(opening.district_opens_at),
                   all=en.datetime(opening.opens_at))) in text(english.text)


async def test_without_a_district_opening_nothing_is_said(portal, fake, enrolment, gw,
                                                          monkeypatch):
    monkeypatch.setattr(ef, "OPENING", _soon(timedelta(days=3), None))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get(PATH)
    assert page.status_code == 200
    assert "votre quartier" not in page.text
