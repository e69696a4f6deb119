"""Contact details (« Mes coordonnées ») and the rules of their change requests. Pure Python."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

import phonenumbers

from marelle_chassis.domain_errors import InvalidInput

SCHEMES = ("CAF", "MSA", "AUTRE")
DEFAULT_REGION = "FR"


class FieldError(InvalidInput):
    """An invalid field: `erreurs` carries the field name for the form that shows it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, erreurs=[{"champ": field_name, "message": message}])


def normalise_phone(value: str | None, field_name: str) -> str | None:
    """E.164 (« 06 12 34 56 78 » → « +33612345678 »); empty means no number."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise FieldError(field_name, "Numéro de téléphone invalide.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field_name, "Numéro de téléphone invalide.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str | None:
    """National format for French numbers (« 06 12 34 56 78 »), international otherwise."""
    if not e164:
        return None
    number = phonenumbers.parse(e164, DEFAULT_REGION)
    fmt = (phonenumbers.PhoneNumberFormat.NATIONAL
           if phonenumbers.region_code_for_number(number) == DEFAULT_REGION
           else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, fmt)


def check_beneficiary(scheme: str | None, number: str | None) -> tuple[str | None, str | None]:
    scheme = (scheme or "").strip().upper() or None
    number = "".join((number or "").split()) or None
    if scheme is not None and scheme not in SCHEMES:
        raise FieldError("beneficiary_scheme", "Régime allocataire inconnu (CAF, MSA ou autre).")
    if number is not None:
        if scheme == "CAF" and not (number.isdigit() and 1 <= len(number) <= 7):
            raise FieldError("beneficiary_number",
                             "Le numéro allocataire CAF compte de 1 à 7 chiffres.")
        if scheme == "MSA" and not (number.isdigit() and len(number) <= 13):
            raise FieldError("beneficiary_number",
                             "Le numéro allocataire MSA compte au plus 13 chiffres.")
        if not number.isalnum() or len(number) > 20:
            raise FieldError("beneficiary_number", "Numéro allocataire invalide.")
    return scheme, number


@dataclass(frozen=True)
class GuardianPhones:
    person_id: uuid.UUID
    rank: int
    mobile_phone: str | None = None
    work_phone: str | None = None


@dataclass(frozen=True)
class ContactDetails:
    email: str | None
    home_phone: str | None = None
    beneficiary_name: str | None = None
    beneficiary_scheme: str | None = None
    beneficiary_number: str | None = None
    guardians: tuple[GuardianPhones, ...] = field(default_factory=tuple)

    def flat(self) -> dict[str, str | None]:
        """Field name → value, guardians' phones as `parent{rank}_mobile|work`."""
        values: dict[str, str | None] = {
            "home_phone": self.home_phone,
            "beneficiary_name": self.beneficiary_name,
            "beneficiary_scheme": self.beneficiary_scheme,
            "beneficiary_number": self.beneficiary_number,
        }
        for g in self.guardians:
            values[f"parent{g.rank}_mobile"] = g.mobile_phone
            values[f"parent{g.rank}_work"] = g.work_phone
        return values

    def with_changes(self, changes: dict[str, str | None]) -> ContactDetails:
        guardians = []
        for g in self.guardians:
            guardians.append(replace(
                g,
                mobile_phone=changes.get(f"parent{g.rank}_mobile", g.mobile_phone),
                work_phone=changes.get(f"parent{g.rank}_work", g.work_phone)))
        return replace(
            self,
            home_phone=changes.get("home_phone", self.home_phone),
            beneficiary_name=changes.get("beneficiary_name", self.beneficiary_name),
            beneficiary_scheme=changes.get("beneficiary_scheme", self.beneficiary_scheme),
            beneficiary_number=changes.get("beneficiary_number", self.beneficiary_number),
            guardians=tuple(guardians))


def requested_changes(current: ContactDetails, proposed: dict[str, str | None]
                      ) -> dict[str, dict[str, str | None]]:
    """Validate and normalise what a family asks for; keep only real changes.

    `proposed` holds flat field names (see `ContactDetails.flat`); an empty string clears a field.
    """
    known = current.flat()
    clean: dict[str, str | None] = {}
    for name, raw in proposed.items():
        if name not in known:
            raise FieldError(name, "Ce champ ne peut pas être modifié.")
        value = raw.strip() if isinstance(raw, str) else raw
        if name.endswith(("_phone", "_mobile", "_work")):
            clean[name] = normalise_phone(value, name)
        elif name == "beneficiary_name":
            if value and len(value) > 100:
                raise FieldError(name, "Le nom de l'allocataire ne doit pas dépasser 100 caractères.")
            clean[name] = " ".join(value.split()) if value else None
        else:
            clean[name] = value or None
    scheme = clean.get("beneficiary_scheme", current.beneficiary_scheme)
    number = clean.get("beneficiary_number", current.beneficiary_number)
    if "beneficiary_scheme" in clean or "beneficiary_number" in clean:
        scheme, number = check_beneficiary(scheme, number)
        if "beneficiary_scheme" in clean:
            clean["beneficiary_scheme"] = scheme
        if "beneficiary_number" in clean:
            clean["beneficiary_number"] = number
    changes = {name: {"before": known[name], "after": value}
               for name, value in clean.items() if value != known[name]}
    if not changes:
        raise InvalidInput("Aucune modification : les coordonnées indiquées sont déjà celles "
                           "que connaît la structure.")
    return changes
