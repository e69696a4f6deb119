"""Problem details (RFC 9457) for every error, with a French `detail`; never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from marelle_chassis.transactions import is_transient
from marelle_chassis.domain_errors import (  # noqa: F401  (re-exported)
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


_HTTP_TITLES = {
    400: ("Requête invalide", "La requête est invalide."),
    401: ("Authentification requise", "Vous devez être connecté."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette ressource."),
    404: ("Ressource introuvable", "La ressource demandée n'existe pas."),
    405: ("Méthode non autorisée", "Cette action n'est pas permise sur cette ressource."),
    409: ("Conflit", "La ressource a été modifiée entre-temps."),
    413: ("Requête trop volumineuse", "La requête est trop volumineuse."),
    415: ("Format non pris en charge", "Le format de la requête n'est pas pris en charge."),
    429: ("Trop de tentatives", "Trop de tentatives : réessayez dans quelques minutes."),
}

_FIELD_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_too_short": "Ce champ est trop court.",
    "string_too_long": "Ce champ est trop long.",
    "date_from_datetime_parsing": "La date n'est pas valide (format attendu : AAAA-MM-JJ).",
    "date_parsing": "La date n'est pas valide (format attendu : AAAA-MM-JJ).",
    "date_type": "La date n'est pas valide (format attendu : AAAA-MM-JJ).",
    "uuid_parsing": "L'identifiant n'est pas valide.",
    "uuid_type": "L'identifiant n'est pas valide.",
    "int_parsing": "Un nombre entier est attendu.",
    "enum": "Valeur non autorisée.",
    "literal_error": "Valeur non autorisée.",
    "json_invalid": "Le corps de la requête n'est pas un JSON valide.",
    "model_attributes_type": "Un objet JSON est attendu.",
    "dict_type": "Un objet JSON est attendu.",
    "list_type": "Une liste est attendue.",
    "string_type": "Une chaîne de caractères est attendue.",
    "value_error": "Valeur invalide.",
    "extra_forbidden": "Ce champ n'est pas attendu.",
}


def problem(status: int, title: str, detail: str, *, code: str | None = None,
            instance: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://marelle.example/problemes/{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def french_field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        message = _FIELD_MESSAGES.get(err.get("type", ""))
        if err.get("type") == "value_error":
            # Our validators raise ValueError with a French sentence; pydantic prefixes it.
            message = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append({"champ": ".".join(loc) or "corps", "message": message or "Valeur invalide."})
    return out


async def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    """A domain error's problem+json (its status, French detail, extra members, headers)."""
    response = problem(exc.status, exc.title, exc.detail, code=exc.code,
                       instance=request.url.path, **exc.extra)
    for name, value in getattr(exc, "headers", {}).items():
        response.headers[name] = value
    return response


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_problem)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = french_field_errors(list(exc.errors()))
        detail = "Certaines informations sont invalides : " + "; ".join(
            f"{f['champ']} : {f['message']}" for f in fields)
        return problem(422, "Données invalides", detail, code="donnees-invalides",
                       instance=request.url.path, erreurs=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title, default_detail = _HTTP_TITLES.get(exc.status_code, ("Erreur", "Erreur."))
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else default_detail
        response = problem(exc.status_code, title, detail, instance=request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            # The database or the broker is not answering (or a race was lost past the use
            # case's own retries): the request may well pass later, so 503 and not 500.
            log.warning("dependency unavailable on %s: %r", request.url.path, exc)
            response = problem(503, "Service momentanément indisponible",
                               "Le service est momentanément indisponible ; votre demande n'a "
                               "pas été enregistrée. Réessayez dans un instant.",
                               code="service-indisponible", instance=request.url.path)
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Erreur interne",
                       "Une erreur inattendue est survenue ; elle a été enregistrée. "
                       "Réessayez plus tard.", instance=request.url.path)
