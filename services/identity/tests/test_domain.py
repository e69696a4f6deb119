from datetime import date

import pytest

from marelle_chassis.domain_errors import InvalidInput
from marelle_identity.domain.model import Child, Family, normalise_email

TODAY = date(2026, 11, 26)


def test_names_are_trimmed_and_required():
    child = Child.new("  Léa ", " Martin  Dupont ", date(2017, 5, 14), None, TODAY)
    assert (child.first_name, child.last_name) == ("Léa", "Martin Dupont")
    with pytest.raises(InvalidInput, match="prénom est obligatoire"):
        Child.new("   ", "Martin", date(2017, 5, 14), None, TODAY)


@pytest.mark.parametrize("born, message", [
    (date(2027, 1, 1), "futur"),
    (date(1990, 1, 1), "25 ans"),
])
def test_birth_date_must_be_plausible(born, message):
    with pytest.raises(InvalidInput, match=message):
        Child.new("Léa", "Martin", born, None, TODAY)


def test_same_child_cannot_be_added_twice():
    family = Family.new("Famille Martin", "Martin@Example.ORG")
    assert family.email == "martin@example.org"
    family.add_child(Child.new("Léa", "Martin", date(2017, 5, 14), None, TODAY))
    with pytest.raises(InvalidInput, match="déjà"):
        family.add_child(Child.new("léa", "Martin", date(2017, 5, 14), None, TODAY))


@pytest.mark.parametrize("bad", ["", "pas-une-adresse", "a@b", "a b@c.fr"])
def test_invalid_emails_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalise_email(bad)
