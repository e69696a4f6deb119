"""Identity answers shaped as services/identity/API.md describes them (staff part).

Built from identity's own models (`marelle_contracts.http.identity`) and dumped as identity sends
them; `gateway/tests/test_contract_fakes.py` checks them against identity's real OpenAPI.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from marelle_contracts.http import identity as I

FAMILY_ID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
OTHER_FAMILY_ID = "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
GUARDIAN_ID = "11111111-2222-4333-8444-555555555555"
CHILD_ID = "22222222-3333-4444-8555-666666666666"
REQUEST_1 = "aaaaaaaa-1111-4111-8111-111111111111"
REQUEST_2 = "bbbbbbbb-2222-4222-8222-222222222222"
REQUEST_3 = "cccccccc-3333-4333-8333-333333333333"


def answer(model: BaseModel) -> dict[str, Any]:
    """A contract model as the service sends it (dumped to JSON)."""
    return model.model_dump(mode="json")


SEARCH = answer(I.FamilySummaries(items=[
    I.FamilySummary(id=FAMILY_ID, name="Martin", email="famille.martin@example.fr",
                    needs_review=True, children=["Léa Martin", "Hugo Martin"],
                    created_at="2025-01-31T23:30:00+00:00"),
    I.FamilySummary(id=OTHER_FAMILY_ID, name="Nguyen", email="nguyen@example.fr",
                    needs_review=False, children=[], created_at="2024-09-02T08:00:00+00:00"),
]))

FAMILY = answer(I.StaffFamilyDetail(
    family=I.Family(id=FAMILY_ID, name="Martin", email="famille.martin@example.fr",
                    needs_review=True, persons=[
                        I.Person(id=GUARDIAN_ID, role="guardian", rank=1, first_name="Claire",
                                 last_name="Martin", birth_date="1985-04-02", sex="F", age=40),
                        I.Person(id=CHILD_ID, role="child", rank=None, first_name="Léa",
                                 last_name="Martin", birth_date="2017-09-14", sex="F", age=7),
                    ]),
    contact=I.Contact(email="famille.martin@example.fr", home_phone="+33123456789",
                      home_phone_display="01 23 45 67 89", beneficiary_name="Claire Martin",
                      beneficiary_scheme="CAF", beneficiary_number="1234567",
                      guardians=[I.GuardianContact(
                          person_id=GUARDIAN_ID, rank=1, first_name="Claire", last_name="Martin",
                          mobile_phone="+33612345678", mobile_phone_display="06 12 34 56 78",
                          work_phone=None, work_phone_display=None)],
                      pending_request=None),
    requests=[
        I.ContactChangeRequest(
            id=REQUEST_1, status="refusee", reason="Numéro d'allocataire inconnu de la CAF",
            changes={"beneficiary_number": {"before": "1234567", "after": "7654321"}},
            created_at="2025-03-01T09:00:00+00:00", decided_at="2025-03-02T10:15:00+00:00"),
    ],
    account=I.AccountState(status="invitee", activated_at=None),
))

PENDING = answer(I.PendingContactChanges(items=[
    I.PendingContactChange(
        id=REQUEST_2, family_id=OTHER_FAMILY_ID, family_name="Nguyen", status="en_attente",
        changes={"beneficiary_scheme": {"before": "CAF", "after": "MSA"}}, reason=None,
        created_at="2025-03-04T16:20:00+00:00", decided_at=None),
    I.PendingContactChange(
        id=REQUEST_1, family_id=FAMILY_ID, family_name="Martin", status="en_attente",
        changes={"home_phone": {"before": "+33123456789", "after": "+33987654321"},
                 f"guardian_phones.{GUARDIAN_ID}.mobile_phone":
                     {"before": "+33612345678", "after": None}},
        reason=None, created_at="2025-03-03T08:05:00+00:00", decided_at=None),
]))
