"""Domain errors: plain exceptions (no framework), mapped to HTTP once, in `errors.py`."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the errors a use case raises; mapped to HTTP here, in one place.

    `detail` is the French sentence shown to the user.
    """

    status: int = 400
    code: str = "erreur"
    title: str = "Requête refusée"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "introuvable", "Ressource introuvable"


class Conflict(DomainError):
    status, code, title = 409, "conflit", "Conflit"


class Forbidden(DomainError):
    status, code, title = 403, "interdit", "Accès refusé"


class Unauthorized(DomainError):
    status, code, title = 401, "non-authentifie", "Authentification requise"


class InvalidInput(DomainError):
    status, code, title = 422, "donnees-invalides", "Données invalides"


class TooManyAttempts(DomainError):
    status, code, title = 429, "trop-de-tentatives", "Trop de tentatives"

    def __init__(self, detail: str, retry_after_seconds: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers = {"Retry-After": str(retry_after_seconds)}


class BadRequest(DomainError):
    status, code, title = 400, "requete-invalide", "Requête invalide"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service-indisponible", "Service momentanément indisponible"
