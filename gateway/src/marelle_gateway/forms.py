"""Form helpers for the pages: submitted values, errors shown on fields and at the top."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from starlette.requests import Request

from marelle_gateway.i18n import Translator
from marelle_gateway.identity import UpstreamProblem

UPSTREAM_LANGUAGE = "fr"  # identity's messages are French whatever the page language


@dataclass(frozen=True)
class Message:
    text: str
    # Set for identity's sentences, so a page in another language marks them `lang="fr"`.
    lang: str | None = None


@dataclass
class FormErrors:
    """Errors of one form: by field id (linked from the summary), then general ones."""

    fields: dict[str, Message] = field(default_factory=dict)
    general: list[Message] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, field_id: str, text: str, lang: str | None = None) -> None:
        self.fields.setdefault(field_id, Message(text, lang))

    def top(self, text: str, lang: str | None = None) -> None:
        self.general.append(Message(text, lang))

    def add_problem(self, problem: UpstreamProblem,
                    field_of: Mapping[str, str] | Callable[[str], str | None] = {}) -> None:
        """identity's 4xx: each `erreurs` entry on its field (or at the top if unknown)."""
        lookup = field_of.get if isinstance(field_of, Mapping) else field_of
        for champ, message in problem.errors:
            field_id = lookup(champ)
            if field_id:
                self.add(field_id, message, UPSTREAM_LANGUAGE)
            else:
                self.top(message, UPSTREAM_LANGUAGE)
        if not problem.errors and problem.detail:
            self.top(problem.detail, UPSTREAM_LANGUAGE)


async def form_values(request: Request, *names: str,
                      raw: tuple[str, ...] = ()) -> dict[str, str]:
    """The submitted text of each named field ("" when absent), stripped unless in `raw`."""
    form = await request.form()
    values = {}
    for name in names:
        value = form.get(name)
        if not isinstance(value, str):
            value = ""
        # Passwords are taken as typed: a space is a character like any other.
        values[name] = value if name in raw else value.strip()
    return values


def require(values: Mapping[str, str], errors: FormErrors, t: Translator, *names: str) -> None:
    for name in names:
        if not values.get(name):
            errors.add(name, t("form.error.required"))


def parse_date(text: str) -> date | None:
    """A date typed as JJ/MM/AAAA or sent by a date picker as AAAA-MM-JJ."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def check_new_password(values: Mapping[str, str], errors: FormErrors, t: Translator,
                       password: str, confirmation: str) -> None:
    """Both typed, and the same (identity judges the strength)."""
    require(values, errors, t, password, confirmation)
    if values.get(password) and values.get(confirmation) and \
            values[password] != values[confirmation]:
        errors.add(confirmation, t("form.error.password_mismatch"))
