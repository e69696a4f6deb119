"""Calls to enrolment (offer, registrations, attestations), as `services/enrolment/API.md` says.

Always with the parent's bearer token and the token's family: enrolment checks both again and
answers 404 for anything outside that family.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from marelle_gateway.enrolment_models import (
    Attestation,
    Attestations,
    Offer,
    Registration,
    RegistrationResult,
    RegistrationResults,
    Registrations,
)
from marelle_contracts.http.queue import Opening, Openings, Ticket, Tickets
from marelle_gateway.upstream import (
    ServiceClient,
    UpstreamUnavailable,
    family_path,
    problem_of,
)

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)

ENROLMENT_DOWN = ("Le service des inscriptions est momentanément indisponible. "
                  "Réessayez dans quelques minutes.")
PDF = "application/pdf"


class EnrolmentClient(ServiceClient):
    name = "enrolment"
    down = ENROLMENT_DOWN

    def _parse(self, model: type[Model], body: Any) -> Model:
        # A body of another shape is an outage for the family, not a crash.
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            log.warning("unexpected %s from enrolment: %s", model.__name__, exc.error_count())
            raise UpstreamUnavailable(self.down) from exc

    async def offer(self, family_id: str, child_id: str, token: str) -> Offer:
        body = await self.fetch("GET", family_path(family_id, "children", child_id, "offer"),
                                token=token)
        return self._parse(Offer, body)

    async def registrations(self, family_id: str, token: str, *, child_id: str | None = None,
                            state: str | None = None) -> list[Registration]:
        params = {name: value for name, value in (("child_id", child_id), ("state", state))
                  if value}
        body = await self.fetch("GET", family_path(family_id, "registrations"), token=token,
                                params=params or None)
        return self._parse(Registrations, body).items

    async def registration(self, family_id: str, registration_id: str,
                           token: str) -> Registration:
        body = await self.fetch("GET", family_path(family_id, "registrations", registration_id),
                                token=token)
        return self._parse(Registration, body)

    async def request(self, family_id: str, token: str,
                      payload: dict[str, Any]) -> list[RegistrationResult]:
        body = await self.fetch("POST", family_path(family_id, "registrations"), ok=(201,),
                                token=token, json=payload)
        return self._parse(RegistrationResults, body).results

    # --- the opening queue (docs/opening-rush.md) ---
    async def openings(self, family_id: str, token: str) -> list[Opening]:
        body = await self.fetch("GET", family_path(family_id, "openings"), token=token)
        return self._parse(Openings, body).items

    async def submit_ticket(self, family_id: str, token: str, key: str,
                            payload: dict[str, Any]) -> Ticket:
        """The ticket (a repeat of `key` returns the one already given)."""
        body = await self.fetch("POST", family_path(family_id, "tickets"), ok=(200, 202),
                                token=token, json=payload, headers={"Idempotency-Key": key},
                                submission=True)
        return self._parse(Ticket, body)

    async def ticket(self, family_id: str, ticket_id: str, token: str) -> Ticket:
        body = await self.fetch("GET", family_path(family_id, "tickets", ticket_id), token=token)
        return self._parse(Ticket, body)

    async def tickets(self, family_id: str, token: str) -> list[Ticket]:
        body = await self.fetch("GET", family_path(family_id, "tickets"), token=token)
        return self._parse(Tickets, body).items

    async def cancel(self, family_id: str, registration_id: str, token: str) -> None:
        await self.fetch("POST", family_path(family_id, "registrations", registration_id,
                                             "cancel"), ok=(200, 204), token=token)

    async def request_attestation(self, family_id: str, registration_id: str,
                                  token: str) -> Attestation:
        body = await self.fetch("POST", family_path(family_id, "registrations", registration_id,
                                                    "attestation-requests"),
                                ok=(200, 201), token=token)
        return self._parse(Attestation, body)

    async def attestations(self, family_id: str, token: str) -> list[Attestation]:
        body = await self.fetch("GET", family_path(family_id, "attestations"), token=token)
        return self._parse(Attestations, body).items

    async def open_pdf(self, family_id: str, attestation_id: str, token: str) -> httpx.Response:
        """The attestation's answer, body not read yet (the caller streams it, then closes it).

        A 200 that is not a PDF is an outage: never relay an unexpected body to parents.
        """
        response = await self.send("GET", family_path(family_id, "attestations",
                                                      attestation_id, "pdf"),
                                   token=token, stream=True)
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code == 200 and media_type == PDF:
            return response
        await response.aread()
        await response.aclose()
        if 400 <= response.status_code < 500:
            raise problem_of(response)
        log.warning("enrolment answered %s (%s) for an attestation PDF",
                    response.status_code, media_type or "no type")
        raise UpstreamUnavailable(self.down)
