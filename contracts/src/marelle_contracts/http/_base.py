"""The two kinds of HTTP body, and the checked text types request bodies are made of.

Every string and list of a request body has a bound (tested by walking every request model: see
`conformance.unbounded`); names and free text refuse control and format characters (a child named
with U+0010 used to be accepted, then broke the PDFs, the CSV exports and the emails); email
addresses are checked by `email-validator` (« a@b.fr, c@d.fr » is not one address).
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["Answer", "Created", "EmailAddress", "FreeText", "Label", "MultiLine", "Name",
           "SingleLine", "Strict"]


class Strict(BaseModel):
    """A request body: an unknown field is refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """A response body: readers ignore the fields they do not know (added in a later version)."""

    model_config = ConfigDict(extra="ignore")


class Created(Answer):
    """`201` of a creation: the new resource's id."""

    id: uuid.UUID


# --- checked text -------------------------------------------------------------------------------

# Cc: control characters (U+0000–U+001F, U+007F–U+009F); Cf: invisible format characters (bidi
# overrides that disguise a name, zero-width spaces); Cs: lone surrogates, which JSON can carry
# ("\ud800") but no database, PDF or email encoder accepts.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Free text keeps its line breaks and tabs (a textarea sends CRLF).
_FREE_TEXT_ALLOWED = frozenset("\n\r\t")


def _refuse_controls(value: str | None, allowed: frozenset[str]) -> str | None:
    if value is None:  # an optional field (`Annotated[str | None, …, SingleLine]`)
        return value
    for char in value:
        if char not in allowed and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValueError(f"Caractère non autorisé (U+{ord(char):04X}).")
    return value


def _single_line(value: str | None) -> str | None:
    return _refuse_controls(value, frozenset())


def _multi_line(value: str | None) -> str | None:
    # A leading byte-order mark is how a spreadsheet's CSV export begins (the import strips it).
    _refuse_controls(value.removeprefix("\ufeff") if value else value, _FREE_TEXT_ALLOWED)
    return value


# Markers to put in an `Annotated[str, Field(max_length=…), SingleLine]`.
SingleLine = AfterValidator(_single_line)
MultiLine = AfterValidator(_multi_line)

# A person's or a household's name, a staff member's display name.
Name = Annotated[str, Field(min_length=1, max_length=100), SingleLine]
# A catalogue label (facility, activity, period, group, unit, stop…).
Label = Annotated[str, Field(min_length=1, max_length=120), SingleLine]


def FreeText(max_length: int, *, min_length: int = 0) -> object:  # noqa: N802 (a type)
    """Free text (a memo, a reason): line breaks and tabs allowed, other controls refused."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length), MultiLine]


# Development and test domains (`marelle.local`, `ville.test`) are special-use names that
# email-validator refuses; their syntax is still checked, under a neutral top-level domain.
_LOCAL_TLDS = ("local", "test", "localhost")


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    checked = value
    labels = domain.lower().rstrip(".").split(".")
    if at and labels[-1] in _LOCAL_TLDS:
        checked = f"{local}@{'.'.join([*labels[:-1], 'example'])}"
    try:
        validate_email(checked, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        raise ValueError("Cette adresse électronique n'est pas valide.") from None
    return value


# One email address (a list « a@b.fr, c@d.fr » is refused); kept as typed.
EmailAddress = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_email)]
