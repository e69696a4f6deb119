"""The billing fixture works on both databases: a family's facts reach billing's copy."""

from datetime import date


async def test_family_reaches_billing(billing):
    family = await billing.family("Durand", {"Léa": date(2021, 3, 1)})
    r = await billing.client.get(f"/staff/families/{family.id}", headers=billing.staff)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "durand@example.org"
