"""The other services' decisions, told to the families by email: identity owns the addresses.

Consumes `marelle.enrolment.v1`, `marelle.booking.v1` (a waiting day that got a place, a
day cancelled by the structure) and `marelle.billing.v1` (a new invoice, a payment received);
each handler queues one email in the consumer's transaction
(idempotent through the inbox, so a redelivered event sends nothing twice).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from marelle_chassis.messaging import PayloadHandler
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts import billing as bi
from marelle_contracts import booking as bk
from marelle_contracts import enrolment as ev
from marelle_identity.config import IdentitySettings
from marelle_identity.db import family, person
from marelle_identity.notifications import queue_email

CONSUMER = "identity.enrolment-events"
BOOKING_CONSUMER = "identity.booking-events"
BILLING_CONSUMER = "identity.billing-events"


def _dates(p: ev.RegistrationFacts) -> str:
    return f"du {p.start_date:%d/%m/%Y} au {p.end_date:%d/%m/%Y}"


async def _send(uow: UnitOfWork, settings: IdentitySettings, family_id: Any, subject: str,
                headline: str, lines: list[str], path: str, link_label: str) -> None:
    email = await uow.session.scalar(select(family.c.email).where(family.c.id == family_id))
    if not email:
        return  # a household without an address: nothing to send
    await queue_email(uow, email, "decision", subject=subject, headline=headline, lines=lines,
                      link=f"{settings.portal_url}{path}", link_label=link_label)


async def _child_name(uow: UnitOfWork, child_id: Any) -> str:
    name = await uow.session.scalar(select(person.c.first_name).where(person.c.id == child_id))
    return name or "votre enfant"


def handlers(settings: IdentitySettings) -> dict[str, PayloadHandler]:
    def registration(kind: str) -> PayloadHandler:
        async def handle(p: Any, e: Envelope, uow: UnitOfWork) -> None:
            child = await _child_name(uow, p.child_id)
            what = f"{p.facility_name} › {p.activity_name} - {p.period_label} ({p.group_label})"
            texts = {
                "validated": (f"Inscription de {child} validée",
                              f"La structure a validé l'inscription de {child} : {what}, {_dates(p)}.",
                              ["Vous pouvez maintenant réserver ses journées dans « Mes réservations »."]),
                "refused": (f"Inscription de {child} refusée",
                            f"La structure a refusé la demande d'inscription de {child} : {what}.",
                            [f"Motif : {getattr(p, 'reason', '')}"]),
                "waitlisted": (f"{child} est sur liste d'attente",
                               f"Le groupe demandé pour {child} est complet : {what}.",
                               [f"Sa demande est sur la liste d'attente, en position "
                                f"{getattr(p, 'position', '?')}. Vous serez prévenu(e) si une "
                                "place se libère."]),
                "promoted": (f"Une place s'est libérée pour {child}",
                             f"Une place s'est libérée : la demande de {child} quitte la liste "
                             f"d'attente ({what}).",
                             ["Elle est validée." if p.status == ev.RegistrationStatus.VALIDATED
                              else "Elle attend maintenant la validation de la structure."]),
                "cancelled": (f"Inscription de {child} annulée",
                              f"L'inscription de {child} a été annulée par la structure : {what}.",
                              []),
            }
            subject, headline, lines = texts[kind]
            if kind == "cancelled" and p.cancelled_by != "structure":
                return  # the family cancelled it itself
            await _send(uow, settings, p.family_id, subject, headline, lines, "/mes-inscriptions",
                        "Voir mes inscriptions")
        return handle

    async def attestation(p: ev.AttestationIssued, e: Envelope, uow: UnitOfWork) -> None:
        child = await _child_name(uow, p.child_id)
        await _send(uow, settings, p.family_id, f"Attestation d'inscription de {child} disponible",
                    f"L'attestation d'inscription de {child} ({p.period_label}) est disponible.",
                    ["Vous pouvez la télécharger depuis « Mes inscriptions »."],
                    "/mes-inscriptions", "Télécharger l'attestation")

    return {
        "enrolment.registration_validated": registration("validated"),
        "enrolment.registration_refused": registration("refused"),
        "enrolment.registration_waitlisted": registration("waitlisted"),
        "enrolment.registration_promoted": registration("promoted"),
        "enrolment.registration_cancelled": registration("cancelled"),
        "enrolment.attestation_issued": attestation,
    }


def _day(day: Any) -> str:
    from babel.dates import format_date

    return format_date(day, "EEEE d MMMM y", locale="fr_FR")


def booking_handlers(settings: IdentitySettings) -> dict[str, PayloadHandler]:
    async def promoted(p: bk.ReservationPromoted, e: Envelope, uow: UnitOfWork) -> None:
        child = await _child_name(uow, p.child_id)
        await _send(uow, settings, p.family_id, f"Une place s'est libérée pour {child}",
                    f"Une place s'est libérée le {_day(p.day)} : {child} est réservé(e) "
                    f"({p.unit_label}).",
                    ["Sa demande a quitté la liste d'attente de ce jour.",
                     "Si vous n'en avez plus besoin, annulez-la dans « Mes réservations » dans "
                     "le délai d'annulation."],
                    "/mes-inscriptions", "Voir mes réservations")

    async def cancelled(p: bk.ReservationCancelled, e: Envelope, uow: UnitOfWork) -> None:
        if p.cancelled_by != "structure":
            return  # the family cancelled it, or its registration ended (already told)
        child = await _child_name(uow, p.child_id)
        await _send(uow, settings, p.family_id, f"Réservation de {child} annulée",
                    f"La structure a annulé la réservation de {child} du {_day(p.day)} "
                    f"({p.unit_label}).", [], "/mes-inscriptions", "Voir mes réservations")

    async def ticket(p: bk.TicketDecided, e: Envelope, uow: UnitOfWork) -> None:
        child = await _child_name(uow, p.child_id)
        summary = ", ".join(part for part in (
            f"{p.booked} jour(s) réservé(s)" if p.booked else "",
            f"{p.waitlisted} en liste d'attente" if p.waitlisted else "",
            f"{p.refused} refusé(s)" if p.refused else "") if part)
        await _send(uow, settings, p.family_id, f"Réservations de {child} : demande traitée",
                    f"Votre demande de réservation pour {child} ({p.period_label}) a été "
                    f"traitée : {summary}.",
                    [f"{line.label} : {line.detail}" for line in p.lines],
                    "/mes-inscriptions", "Voir mes réservations")

    return {"booking.reservation_promoted": promoted,
            "booking.reservation_cancelled": cancelled,
            "booking.ticket_decided": ticket}


def _eur(cents: int) -> str:
    from decimal import Decimal

    from babel.numbers import format_currency

    return format_currency(Decimal(cents) / 100, "EUR", locale="fr_FR")


def billing_handlers(settings: IdentitySettings) -> dict[str, PayloadHandler]:
    async def invoice(p: bi.InvoiceIssued, e: Envelope, uow: UnitOfWork) -> None:
        if p.imported:
            return  # taken over from the previous system: the family already knew it
        await _send(uow, settings, p.family_id, f"Nouvelle facture n° {p.number}",
                    f"La facture n° {p.number} de la {p.regie_name} est disponible : "
                    f"{_eur(p.total_cents)}.",
                    [f"Date de la facture : {p.issued_on:%d/%m/%Y}."]
                    + ([f"À régler avant le {p.due_on:%d/%m/%Y}."] if p.due_on and p.balance_cents
                       else []),
                    "/mon-compte/detail-par-facture", "Voir et payer mes factures")

    async def credit_note(p: bi.CreditNoteIssued, e: Envelope, uow: UnitOfWork) -> None:
        await _send(uow, settings, p.family_id, f"Avoir n° {p.number}",
                    f"Un avoir de {_eur(p.amount_cents)} a été émis par la {p.regie_name}.",
                    ["Il est déduit de vos factures à payer."],
                    "/mon-compte/detail-par-facture", "Voir mes factures")

    async def payment(p: bi.PaymentReceived, e: Envelope, uow: UnitOfWork) -> None:
        numbers = ", ".join(a.invoice_number for a in p.allocations)
        await _send(uow, settings, p.family_id, f"Paiement reçu : {_eur(p.amount_cents)}",
                    f"Nous avons bien reçu votre paiement de {_eur(p.amount_cents)} "
                    f"(reçu n° {p.receipt_number}).",
                    ([f"Factures réglées : {numbers}."] if numbers else [])
                    + ([f"{_eur(p.unallocated_cents)} restent à votre crédit."]
                       if p.unallocated_cents else []),
                    "/mon-compte/detail-par-facture", "Voir mes factures")

    return {"billing.invoice_issued": invoice,
            "billing.credit_note_issued": credit_note,
            "billing.payment_received": payment}
