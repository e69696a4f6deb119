"""Enrolment's decisions reach the family by email, once, in French."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from marelle_chassis.messaging import EventDispatcher
from marelle_contracts import enrolment as ev
from marelle_contracts import new_envelope
from marelle_identity import family_notices

pytestmark = pytest.mark.postgres


def facts(family_id: str, child_id: str, status: ev.RegistrationStatus) -> dict:
    return dict(registration_id=uuid.uuid4(), child_id=child_id, family_id=family_id,
                period_id=uuid.uuid4(), group_id=uuid.uuid4(),
                facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE",
                period_label="Automne 2026", group_label="6-8 ans Rémond",
                start_date=date(2026, 10, 19), end_date=date(2026, 10, 30), status=status)


async def test_registration_decisions_are_emailed_once(identity):
    family_id, parent = await identity.family_with_account("Famille Ndiaye", "ndiaye@example.org",
                                                           child="Awa")
    family = (await identity.client.get(f"/families/{family_id}", headers=parent)).json()
    child_id = next(p["id"] for p in family["persons"] if p["role"] == "child")
    app = identity.app
    dispatch = EventDispatcher(family_notices.CONSUMER, app.state.uow_factory,
                               family_notices.handlers(app.state.settings))

    validated = new_envelope(ev.RegistrationValidated(**facts(family_id, child_id,
                                                              ev.RegistrationStatus.VALIDATED)),
                             producer="enrolment")
    await dispatch(validated)
    await dispatch(validated)  # redelivered: no second email
    refused = new_envelope(ev.RegistrationRefused(
        **facts(family_id, child_id, ev.RegistrationStatus.REFUSED),
        reason="Le groupe est réservé aux enfants scolarisés dans la commune."), producer="enrolment")
    await dispatch(refused)
    by_family = new_envelope(ev.RegistrationCancelled(
        **facts(family_id, child_id, ev.RegistrationStatus.CANCELLED), cancelled_by="famille"),
        producer="enrolment")
    await dispatch(by_family)

    ok = await identity.mail.wait_for("ndiaye@example.org", "Inscription de Awa validée")
    text = identity.mail.text(ok)
    assert "CENTRE DE LOISIRS ALSH › AUTOMNE - Automne 2026 (6-8 ans Rémond)" in text
    assert "du 19/10/2026 au 30/10/2026" in text
    no = await identity.mail.wait_for("ndiaye@example.org", "refusée")
    assert "Motif : Le groupe est réservé" in identity.mail.text(no)
    decisions = [m for m in identity.mail.messages
                 if m["To"] == "ndiaye@example.org" and "Inscription de Awa" in str(m["Subject"])]
    assert len(decisions) == 2  # validated once, refused once, nothing for the family's own cancel


async def test_a_waiting_day_that_gets_a_place_is_emailed_once(identity):
    from datetime import UTC, datetime

    from marelle_contracts import booking as bk

    family_id, parent = await identity.family_with_account("Famille Roux", "roux@example.org",
                                                           child="Noé")
    family = (await identity.client.get(f"/families/{family_id}", headers=parent)).json()
    child_id = next(p["id"] for p in family["persons"] if p["role"] == "child")
    dispatch = EventDispatcher(family_notices.BOOKING_CONSUMER, identity.app.state.uow_factory,
                               family_notices.booking_handlers(identity.app.state.settings))
    day = dict(reservation_id=uuid.uuid4(), registration_id=uuid.uuid4(), child_id=child_id,
               family_id=family_id, period_id=uuid.uuid4(), group_id=uuid.uuid4(),
               day=date(2026, 10, 21), unit="journee", unit_label="Journée complète")
    promoted = new_envelope(bk.ReservationPromoted(**day, status=bk.ReservationStatus.BOOKED),
                            producer="booking", version=3)
    await dispatch(promoted)
    await dispatch(promoted)  # redelivered: no second email
    await dispatch(new_envelope(bk.ReservationCancelled(
        **{**day, "reservation_id": uuid.uuid4()}, status=bk.ReservationStatus.CANCELLED,
        cancelled_by="famille", cancelled_at=datetime.now(UTC), within_deadline=True),
        producer="booking", version=2))

    mail = await identity.mail.wait_for("roux@example.org", "Une place s'est libérée pour Noé")
    assert "mercredi 21 octobre 2026" in identity.mail.text(mail)
    assert "Journée complète" in identity.mail.text(mail)
    about = [m for m in identity.mail.messages if m["To"] == "roux@example.org"
             and "Noé" in str(m["Subject"])]
    assert len(about) == 1  # once, and nothing for the family's own cancellation


async def test_a_booking_ticket_of_an_opening_is_emailed_once_as_one_summary(identity):
    from marelle_contracts import booking as bk

    family_id, parent = await identity.family_with_account("Famille Vidal", "vidal@example.org",
                                                           child="Inès")
    family = (await identity.client.get(f"/families/{family_id}", headers=parent)).json()
    child_id = next(p["id"] for p in family["persons"] if p["role"] == "child")
    dispatch = EventDispatcher(family_notices.BOOKING_CONSUMER, identity.app.state.uow_factory,
                               family_notices.booking_handlers(identity.app.state.settings))
    decided = new_envelope(bk.TicketDecided(
        ticket_id=uuid.uuid4(), family_id=family_id, child_id=child_id,
        registration_id=uuid.uuid4(), period_label="Été 2027", position=12, booked=2,
        waitlisted=1, refused=0, lines=[
            bk.TicketLine(label="Inès — lundi 5 juillet, journée", status="reservee",
                          detail="Réservé : journée."),
            bk.TicketLine(label="Inès — mardi 6 juillet, journée", status="reservee",
                          detail="Réservé : journée."),
            bk.TicketLine(label="Inès — mercredi 7 juillet, journée", status="liste_attente",
                          detail="Complet : sur la liste d'attente, en position 3.")]),
        producer="booking", version=1)
    await dispatch(decided)
    await dispatch(decided)  # redelivered: no second email
    mail = await identity.mail.wait_for("vidal@example.org", "Réservations de Inès")
    text = identity.mail.text(mail)
    assert "2 jour(s) réservé(s), 1 en liste d'attente" in text
    assert "mercredi 7 juillet, journée : Complet" in text
    assert len([m for m in identity.mail.messages if m["To"] == "vidal@example.org"
                and "Réservations de" in str(m["Subject"])]) == 1


async def test_a_new_invoice_and_a_payment_are_emailed_once_in_french(identity):
    from datetime import UTC, datetime

    from marelle_contracts import billing as bi

    family_id, _ = await identity.family_with_account("Famille Perrin", "perrin@example.org",
                                                      child="Lou")
    dispatch = EventDispatcher(family_notices.BILLING_CONSUMER, identity.app.state.uow_factory,
                               family_notices.billing_handlers(identity.app.state.settings))
    invoice = dict(invoice_id=uuid.uuid4(), number="F2610000001", family_id=family_id,
                   regie_code="ENFANCE", regie_name="Régie Enfance", month="2026-10",
                   issued_on=date(2026, 11, 2), due_on=date(2026, 12, 2), total_cents=123450,
                   balance_cents=123450)
    issued = new_envelope(bi.InvoiceIssued(**invoice), producer="billing", version=2)
    await dispatch(issued)
    await dispatch(issued)  # redelivered: no second email
    await dispatch(new_envelope(bi.InvoiceIssued(**{**invoice, "number": "F1404000001",
                                                    "invoice_id": uuid.uuid4(), "month": None},
                                                 imported=True), producer="billing", version=1))
    await dispatch(new_envelope(bi.PaymentReceived(
        payment_id=uuid.uuid4(), family_id=family_id, regie_code="ENFANCE",
        method=bi.PaymentMethod.CARD, amount_cents=4000, received_at=datetime.now(UTC),
        receipt_number="R2611000001",
        allocations=[bi.Allocation(invoice_id=invoice["invoice_id"], invoice_number="F2610000001",
                                   amount_cents=4000)]), producer="billing", version=2))

    mail = await identity.mail.wait_for("perrin@example.org", "Nouvelle facture n° F2610000001")
    text = identity.mail.text(mail)
    assert "1\u202f234,50\u00a0€" in text and "02/12/2026" in text
    paid = await identity.mail.wait_for("perrin@example.org", "Paiement reçu")
    assert "R2611000001" in identity.mail.text(paid) and "F2610000001" in identity.mail.text(paid)
    about = [m for m in identity.mail.messages if m["To"] == "perrin@example.org"
             and any(w in str(m["Subject"]) for w in ("facture", "Paiement", "Avoir"))]
    assert len(about) == 2  # the invoice once, the payment once, nothing for the imported one
