"""The staff UI's message catalogue (French). Same interface as the portal's, one language."""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGE = "fr"


@cache
def catalogue(lang: str = LANGUAGE) -> dict[str, str]:
    # `fr.json`, then any `fr.<part>.json` (one file per feature keeps parallel work apart).
    messages: dict[str, str] = {}
    for path in [LOCALES_DIR / f"{lang}.json", *sorted(LOCALES_DIR.glob(f"{lang}.*.json"))]:
        messages.update(json.loads(path.read_text(encoding="utf-8")))
    return messages


class Translator:
    def __init__(self, lang: str = LANGUAGE) -> None:
        self.lang = lang
        self.messages = catalogue(lang)

    def __contains__(self, key: object) -> bool:
        return key in self.messages

    def __call__(self, key: str, /, **kwargs: object) -> str:
        message = self.messages.get(key)
        if message is None:
            log.warning("missing message %r in catalogue %r", key, self.lang)
            message = key
        return message.format(**kwargs) if kwargs else message
