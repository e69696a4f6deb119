"""Message catalogues (French first, English second) and language negotiation.

Every visible string goes through a catalogue key, so a new language is one JSON file.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from starlette.requests import Request

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "fr"
LANG_COOKIE = "marelle_lang"
# Families read times in the municipality's time zone, whatever the server's.
DISPLAY_TZ = ZoneInfo("Europe/Paris")


@cache
def catalogue(lang: str) -> dict[str, str]:
    # `fr.json`, then any `fr.<part>.json` (one file per feature keeps parallel work apart).
    messages: dict[str, str] = {}
    for path in [LOCALES_DIR / f"{lang}.json", *sorted(LOCALES_DIR.glob(f"{lang}.*.json"))]:
        messages.update(json.loads(path.read_text(encoding="utf-8")))
    return messages


def available_languages() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in LOCALES_DIR.glob("*.json") if "." not in p.stem))


class Translator:
    """`t("key", name=...)`: the catalogue string for the key, formatted with the arguments."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = catalogue(lang)

    def __contains__(self, key: object) -> bool:
        return key in self.messages

    def __call__(self, key: str, /, **kwargs: object) -> str:
        message = self.messages.get(key)
        if message is None:
            # Fall back to French rather than show a key; the catalogue test catches it.
            log.warning("missing message %r in catalogue %r", key, self.lang)
            message = catalogue(DEFAULT_LANGUAGE).get(key, key)
        return message.format(**kwargs) if kwargs else message

    def date(self, value: date) -> str:
        """A calendar date as the guide writes it (JJ/MM/AAAA in French)."""
        return format_date(value, format=self("format.date.pattern"), locale=self.lang)

    def day(self, value: date) -> str:
        """« mardi 20 octobre »: a day of a booking month, as a label reads it."""
        return format_date(value, format=self("format.date.day"), locale=self.lang)

    def full_date(self, value: date) -> str:
        """« mardi 20 octobre 2026 »."""
        return format_date(value, format=self("format.date.full"), locale=self.lang)

    def month(self, value: date) -> str:
        """« octobre 2026 »."""
        return format_date(value, format=self("format.date.month"), locale=self.lang)

    def number(self, value: int) -> str:
        """« 2 000 » in French, "2,000" in English."""
        return format_decimal(value, locale=self.lang)

    def datetime(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(DISPLAY_TZ)
        return self("format.datetime",
                    date=format_date(local, format="long", locale=self.lang),
                    time=format_time(local, format="short", locale=self.lang))


def negotiate(request: Request, default: str = DEFAULT_LANGUAGE) -> tuple[str, bool]:
    """The page language and whether it was chosen explicitly (`?lang=`, to remember it).

    Order: `?lang=`, then the remembered choice (cookie), then Accept-Language, then French.
    """
    available = available_languages()
    asked = request.query_params.get("lang", "").lower()
    if asked in available:
        return asked, True
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in available:
        return remembered, False
    for lang in _accept_language(request.headers.get("accept-language", "")):
        if lang in available:
            return lang, False
    return default, False


def _accept_language(header: str) -> list[str]:
    """Primary language tags by decreasing quality ("fr-FR,en;q=0.8" -> ["fr", "en"])."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(weighted)]
