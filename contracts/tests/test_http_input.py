"""Bad input refused by the request bodies themselves: bounds on every string and list, control
characters in names and free text, one real email address."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from marelle_contracts.http import billing as BL
from marelle_contracts.http import booking as B
from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http._base import FreeText, Name, Strict
from marelle_contracts.http.conformance import model_unbounded, request_models


def test_every_request_model_bounds_its_strings_lists_and_maps() -> None:
    models = request_models()
    assert I.ChildIn in models and BL.ImportIn in models and B.ReservationChange in models
    assert len(models) > 40  # the walk really found the contracts' request bodies
    problems = [p for model in models for p in model_unbounded(model)]
    assert problems == []


def test_the_walk_finds_an_unbounded_field_however_deep() -> None:
    class Inner(Strict):
        note: str
        tags: Annotated[list[Annotated[str, Field(max_length=5)]], Field(max_length=3)] = []

    class Outer(Strict):
        name: Name
        items: list[Inner]
        extra: dict[str, int] = {}

    assert sorted(model_unbounded(Outer)) == sorted([
        "test_http_input.Outer: items: liste sans nombre maximal d'éléments",
        "test_http_input.Outer: Inner.note: chaîne sans longueur maximale",
        "test_http_input.Outer: extra: dictionnaire sans nombre maximal de clés",
        "test_http_input.Outer: extra{propertyNames}: chaîne sans longueur maximale",
    ])


def _child(first_name: str) -> I.ChildIn:
    return I.ChildIn(first_name=first_name, last_name="Martin", birth_date="2017-05-14")


@pytest.mark.parametrize("char", ["\x10", "\x00", "\n", "\t", "\x7f", "\u0085", "\u202e",
                                  "\u200b", "\ufeff", "\ud800"])
def test_names_refuse_control_and_format_characters(char: str) -> None:
    # (pydantic itself refuses a lone surrogate, before our check)
    with pytest.raises(ValidationError, match="Caractère non autorisé|unicode"):
        _child(f"Lé{char}a")
    with pytest.raises(ValidationError):
        E.NameIn(name=f"ALSH{char}")
    with pytest.raises(ValidationError):
        B.ShuttleStopIn(name=f"Mairie{char}")


def test_names_keep_every_letter_accent_and_punctuation() -> None:
    for name in ("Léa", "Zoë-Anaïs", "N'Diaye", "Ødegård", "李", "Ἀλέξανδρος", "O’Brien"):
        assert _child(name).first_name == name


def test_free_text_keeps_line_breaks_and_tabs_only() -> None:
    assert E.ReasonIn(reason="Dossier incomplet.\r\n\tPièce manquante").reason
    assert E.RegistrationRequestIn(child_id="0" * 32, group_id="0" * 32,
                                   memo="Allergie :\narachides").memo
    for char in ("\x10", "\x1b", "\u202e", "\x00"):
        with pytest.raises(ValidationError, match="Caractère non autorisé"):
            E.ReasonIn(reason=f"refus{char}")
        with pytest.raises(ValidationError):
            B.RollCallRecordIn(child_id="0" * 32, status="absent", reason=f"malade{char}")


def test_free_text_may_begin_with_a_byte_order_mark_only() -> None:
    assert BL.ImportIn(regie_code="ENFANCE", csv="\ufefffamille;numero").csv
    with pytest.raises(ValidationError):
        BL.ImportIn(regie_code="ENFANCE", csv="famille;\ufeffnumero")


def test_free_text_type_bounds_and_checks() -> None:
    class Note(Strict):
        text: FreeText(10)  # type: ignore[valid-type]

    assert Note(text="a\nb").text == "a\nb"
    with pytest.raises(ValidationError):
        Note(text="x" * 11)
    with pytest.raises(ValidationError):
        Note(text="a\x07")


@pytest.mark.parametrize("address", ["parent@example.fr", "claire.martin+ecole@ville-exemple.fr",
                                     "admin@marelle.local", "agent@ville.test", "élodie@exemple.fr"])
def test_real_addresses_are_accepted_as_typed(address: str) -> None:
    assert I.EmailIn(email=address).email == address
    assert I.LoginIn(email=address, password="x").email == address


@pytest.mark.parametrize("address", ["a@b.fr, c@d.fr", "a@b.fr;c@d.fr", "a@b.fr c@d.fr",
                                     "Claire <a@b.fr>", "a@@b.fr", "sans-arobase", "ab@",
                                     "@b.fr", "a@b.fr\r\nBcc: x@y.fr", "a..b@c.fr"])
def test_lists_and_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="adresse électronique"):
        I.EmailIn(email=address)
    with pytest.raises(ValidationError):
        I.StaffFamilyIn(name="Famille Martin", email=address,
                        guardian={"first_name": "Claire", "last_name": "Martin"})
    with pytest.raises(ValidationError):
        I.SignupIn(family_name="Martin", email=address, password="un-mot-de-passe",
                   guardian={"first_name": "Claire", "last_name": "Martin"})


def test_lists_are_bounded() -> None:
    with pytest.raises(ValidationError):
        I.StaffAccountIn(email="a@b.fr", display_name="A", password="p",
                         roles=["manager"] * 3)
    with pytest.raises(ValidationError):
        I.ContactChangeIn(guardian_phones=[{"person_id": "0" * 32}] * 11)


def test_answers_are_not_checked_readers_stay_lenient() -> None:
    # An answer never refuses what a service stored before these checks existed.
    assert I.Person(id="0" * 32, role="child", first_name="L\x10a", last_name="M").first_name

