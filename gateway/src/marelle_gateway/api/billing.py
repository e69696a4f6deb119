"""« Mon compte » for the mobile apps: the financial summary, invoices (and their PDFs), the
detail per registration, online payments (start, return, receipts) and fiscal attestations.

Thin proxies to billing (`services/billing/API.md`), its paths under `/api/v1`: the family is
always the bearer token's, never one from the request; the bodies are billing's own
(`marelle_contracts.http.billing`), so its limits are checked here first (a French 422 without
asking billing) and an unknown top-level field is dropped; billing's statuses and problem+json
pass through as they are; an unreachable billing is a French 503 problem+json.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from marelle_chassis.errors import problem
from marelle_contracts.http.billing import (
    AccountSummary,
    AttestationIn,
    FiscalAttestation,
    FiscalAttestations,
    InvoiceDetail,
    InvoiceList,
    OnlinePaymentIn,
    OnlinePaymentStart,
    PaymentList,
    PaymentReturnIn,
    PaymentView,
    RegistrationMoneyList,
)

from marelle_gateway.api.proxy import DROP_UNKNOWN, UNEXPECTED, api_parent, relay
from marelle_gateway.billing import (
    PDF,
    BillingClient,
    attestation_pdf_path,
    invoice_path,
    invoice_pdf_path,
    receipt_pdf_path,
    return_url,
)
from marelle_gateway.session import Session
from marelle_gateway.upstream import family_path

router = APIRouter(tags=["mon compte"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
    404: {"description": "Introuvable dans votre famille (problem+json)"},
    503: {"description": "Service de facturation indisponible (problem+json)"}}
_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "Impossible dans l'état actuel : facture déjà réglée… (problem+json, "
                         "`detail` en français)"},
    422: {"description": "Données invalides (problem+json, `erreurs` par champ)"}}


class PaymentStartRequest(BaseModel):
    """« Payer cette facture »: by default the invoice's whole balance; a smaller amount only
    when the régie allows partial payments. The provider sends the parent back to the portal's
    return page (`/mon-compte/paiement/retour`); an app follows the payment with
    `GET /api/v1/payments/{payment_id}`."""

    model_config = DROP_UNKNOWN

    amount_cents: Annotated[int, Field(ge=1, le=100_000_000)] | None = None


class PaymentReturnRequest(PaymentReturnIn):
    """What the provider appended to the return address (the raw query string)."""

    model_config = DROP_UNKNOWN


class AttestationRequest(AttestationIn):
    """« Demande d'Attestation fiscale » for a year."""

    model_config = DROP_UNKNOWN


def _billing(request: Request) -> BillingClient:
    return request.app.state.upstreams.billing


async def _send(request: Request, method: str, path: str, session: Session, *,
                body: BaseModel | None = None) -> Response:
    upstream = await _billing(request).send(
        method, path, token=session.access_token,
        json=body.model_dump(mode="json") if body else None)
    return relay(upstream, request, "billing")


async def _pdf(request: Request, path: str, session: Session, filename: str) -> Response:
    upstream = await _billing(request).send("GET", path, token=session.access_token,
                                            stream=True)
    media_type = upstream.headers.get("content-type", "").split(";")[0].strip()
    if upstream.status_code == 200 and media_type == PDF:
        # Streamed: the document is never held whole by the gateway.
        return StreamingResponse(
            upstream.aiter_bytes(), media_type=PDF, background=BackgroundTask(upstream.aclose),
            headers={"content-disposition": f'attachment; filename="{filename}"',
                     "cache-control": "private, no-store"})
    await upstream.aread()
    await upstream.aclose()
    if upstream.status_code == 200:
        return problem(502, "Réponse inattendue", UNEXPECTED["billing"],
                       code="reponse-inattendue", instance=request.url.path)
    return relay(upstream, request, "billing")


def _pdf_answer(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {PDF: {}}, "description": what}, **_ERRORS}


@router.get("/account", response_model=AccountSummary,
            summary="« Mon compte » : solde, enfants à charge, derniers revenus, quotient et sa "
                    "date, tranche tarifaire", responses=_ERRORS)
async def account(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "account"), session)


@router.get("/invoices", response_model=InvoiceList,
            summary="Détail financier par facture : factures et avoirs émis, du plus récent au "
                    "plus ancien, et le total des soldes (« Total : »)", responses=_ERRORS)
async def invoices(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "invoices"), session)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail,
            summary="Une facture (ou un avoir) : ses lignes et les règlements reçus",
            responses=_ERRORS)
async def invoice(invoice_id: uuid.UUID, request: Request,
                  session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", invoice_path(session.family_id, str(invoice_id)),
                       session)


@router.get("/invoices/{invoice_id}/pdf", summary="Télécharger une facture ou un avoir (PDF)",
            responses=_pdf_answer("La facture"))
async def invoice_pdf(invoice_id: uuid.UUID, request: Request,
                      session: Session = Depends(api_parent)) -> Response:
    return await _pdf(request, invoice_pdf_path(session.family_id, str(invoice_id)), session,
                      f"facture-{invoice_id}.pdf")


@router.get("/registrations", response_model=RegistrationMoneyList,
            summary="Détail financier par inscription : facturé, payé, reste à payer",
            responses=_ERRORS)
async def registrations(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "registrations"),
                       session)


@router.post("/invoices/{invoice_id}/payments", response_model=OnlinePaymentStart,
             status_code=201,
             summary="Payer une facture en ligne : où envoyer le navigateur (`redirect_url`, "
                     "en GET, ou en POST des `form_fields`)",
             responses={**_REFUSED, **_ERRORS})
async def start_payment(invoice_id: uuid.UUID, body: PaymentStartRequest, request: Request,
                        session: Session = Depends(api_parent)) -> Response:
    payment = OnlinePaymentIn(amount_cents=body.amount_cents, return_url=return_url(request))
    return await _send(request, "POST",
                       invoice_path(session.family_id, str(invoice_id), "payments"), session,
                       body=payment)


@router.post("/payments/return", response_model=PaymentView,
             summary="Retour de la banque : la chaîne de requête qu'elle a ajoutée à l'adresse "
                     "de retour, vérifiée et enregistrée une seule fois",
             responses={400: {"description": "Retour illisible (problem+json)"},
                        **_REFUSED, **_ERRORS})
async def payment_return(body: PaymentReturnRequest, request: Request,
                         session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST", family_path(session.family_id, "payments", "return"),
                       session, body=PaymentReturnIn(query_string=body.query_string))


@router.get("/payments", response_model=PaymentList,
            summary="Mes paiements, du plus récent au plus ancien", responses=_ERRORS)
async def payments(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "payments"), session)


@router.get("/payments/{payment_id}", response_model=PaymentView,
            summary="Un paiement : son état (en attente, accepté, refusé, abandonné) et son "
                    "ticket", responses=_ERRORS)
async def payment(payment_id: uuid.UUID, request: Request,
                  session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET",
                       family_path(session.family_id, "payments", str(payment_id)), session)


@router.get("/payments/{payment_id}/receipt.pdf",
            summary="Télécharger le ticket d'un paiement accepté (PDF)",
            responses=_pdf_answer("Le ticket"))
async def receipt_pdf(payment_id: uuid.UUID, request: Request,
                      session: Session = Depends(api_parent)) -> Response:
    return await _pdf(request, receipt_pdf_path(session.family_id, str(payment_id)), session,
                      f"ticket-{payment_id}.pdf")


@router.get("/fiscal-attestations", response_model=FiscalAttestations,
            summary="Mes attestations fiscales déjà délivrées", responses=_ERRORS)
async def attestations(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "fiscal-attestations"),
                       session)


@router.post("/fiscal-attestations", response_model=FiscalAttestation, status_code=201,
             summary="Demande d'Attestation fiscale pour une année (frais de garde des enfants "
                     "de moins de 6 ans au 1er janvier, repas exclus)",
             responses={**_REFUSED, **_ERRORS})
async def request_attestation(body: AttestationRequest, request: Request,
                              session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST", family_path(session.family_id, "fiscal-attestations"),
                       session, body=AttestationIn(year=body.year))


@router.get("/fiscal-attestations/{attestation_id}/pdf",
            summary="Télécharger une attestation fiscale (PDF)",
            responses=_pdf_answer("L'attestation"))
async def attestation_pdf(attestation_id: uuid.UUID, request: Request,
                          session: Session = Depends(api_parent)) -> Response:
    return await _pdf(request, attestation_pdf_path(session.family_id, str(attestation_id)),
                      session, f"attestation-fiscale-{attestation_id}.pdf")
