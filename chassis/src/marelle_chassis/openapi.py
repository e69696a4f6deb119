"""An OpenAPI document that says what the API really does.

FastAPI's own document knows neither that the caller's identity comes from a bearer token (the
dependency reads the header itself) nor that every error is problem+json. `document_api(app)`
replaces `app.openapi` with a post-processed document:

- the `bearer` security scheme (JWT) on every operation whose dependencies include the caller
  (`principal_dependency`'s `current_principal`, the gateway's `api_parent`), `security: []` on the
  others (health, JWKS, login, feeds by secret token, payment callbacks);
- the `Problem` schema (RFC 9457, `application/problem+json`: type, title, status, detail,
  instance, and `erreurs` for invalid fields) for every error status, in place of FastAPI's
  `HTTPValidationError`;
- the error statuses an operation can return, from what it depends on: 401 (a bearer), 403 (a
  role: staff or parent), 404 (a resource the path, a parameter or the body names), 409 (a protected change: a conditional update
  lost, a state that no longer allows it), 422 (parameters or a body), 429 (the throttled
  authentication endpoints), 503 (a dependency not answering; every operation), 400 where the
  service's rules call a request malformed. Statuses a route declares itself are kept (its
  description wins); `extra_statuses` adds others.

Used by `create_service_app` for every service and by the gateway for `/api/v1` (`relayed=True`:
its operations pass the services' answers through, so every service status may come back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from marelle_chassis.errors import PROBLEM_JSON

SCHEME = "bearer"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "Erreur au format problem+json (RFC 9457), `detail` en français.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URI du type d'erreur, ou about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "Explication en français"},
        "instance": {"type": "string", "description": "Chemin de la requête"},
        "erreurs": {
            "type": "array",
            "description": "Champs invalides (422)",
            "items": {"type": "object", "required": ["champ", "message"],
                      "properties": {"champ": {"type": "string"},
                                     "message": {"type": "string"}}},
        },
    },
    # A domain error may add context (`retry_after`, the conflicting version…).
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Requête invalide",
    401: "Authentification requise : jeton absent, expiré, révoqué ou invalide",
    403: "Accès refusé : réservé à un autre type de compte ou à un autre rôle",
    404: "Ressource introuvable (ou appartenant à un autre foyer)",
    409: "Conflit : la ressource a changé ou ne permet plus cette action",
    413: "Requête trop volumineuse",
    422: "Données invalides (champs en erreur dans `erreurs`)",
    429: "Trop de tentatives (en-tête Retry-After)",
    502: "Un service a répondu de façon inattendue",
    503: "Service momentanément indisponible (en-tête Retry-After)",
}

_CHANGES = {"post", "put", "patch", "delete"}
# Paths of the throttled authentication endpoints (identity, the gateway's /api/v1/auth).
_THROTTLED = ("/auth/", "/me/password")


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The app's API routes, those of included routers too (FastAPI ≥ 0.160 includes routers
    lazily: `app.routes` then holds the routers, whose routes only a `RouteContext` sees, with
    their prefix and the router's dependencies applied)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: included routes are copied into app.routes
        yield from (r for r in routes if isinstance(r, APIRoute))
        return
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


# The dependencies that read the caller's bearer token: the chassis' (`principal_dependency`),
# identity's own (it verifies its tokens and their revocation itself), the gateway's. The attack
# suite checks this against reality: an operation answering 401 to an anonymous call must be
# documented with the scheme, and the other way round.
BEARER_DEPENDENCIES = frozenset({"current_principal", "verified_claims", "api_parent"})


def _is_bearer(call: Any) -> bool:
    qualname = getattr(call, "__qualname__", "")
    return "principal_dependency" in qualname \
        or getattr(call, "__name__", "") in BEARER_DEPENDENCIES


def _is_role(call: Any) -> bool:
    qualname = getattr(call, "__qualname__", "")
    return "require_staff" in qualname or "require_parent" in qualname


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


class _Flat:
    """The parameters of an operation and of all its dependencies."""

    def __init__(self, dependant: Dependant) -> None:
        self.path_params: list[Any] = []
        self.query_params: list[Any] = []
        self.header_params: list[Any] = []
        self.cookie_params: list[Any] = []
        self.body_params: list[Any] = []
        pending = [dependant]
        while pending:
            d = pending.pop()
            for name in ("path_params", "query_params", "header_params", "cookie_params",
                         "body_params"):
                getattr(self, name).extend(getattr(d, name))
            pending += d.dependencies


def statuses_of(route: Any, method: str, *, relayed: bool = False) -> tuple[bool, set[int]]:
    """(protected by a bearer token, the error statuses the operation can answer)."""
    calls = list(_calls(route.dependant))
    flat = _Flat(route.dependant)
    bearer = any(_is_bearer(c) for c in calls)
    params = bool(flat.path_params or flat.query_params or flat.header_params
                  or flat.cookie_params or flat.body_params)
    out = {503}
    if bearer or any(marker in route.path_format for marker in _THROTTLED):
        out.add(401)  # no valid token; on the authentication endpoints: wrong credentials
    if any(marker in route.path_format for marker in _THROTTLED):
        out.add(429)
    if any(_is_role(c) for c in calls) or relayed and bearer:
        out.add(403)
    if params or relayed and bearer:
        out.add(404)  # the resource of the path, or one a parameter or the body names
    if method in _CHANGES:
        out.add(409)
    if params:
        out |= {400, 422}  # a request the service's rules call malformed; invalid fields
    if relayed:
        out.add(502)
    return bearer, out


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {"description": description or DESCRIPTIONS.get(status, "Erreur"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document(schema: dict[str, Any], routes: Iterable[Any], *, relayed: bool = False,
             prefix: str = "", extra_statuses: dict[str, Iterable[int]] | None = None
             ) -> dict[str, Any]:
    """Post-process FastAPI's document (in place) for `routes`; see the module's docstring.

    Only paths under `prefix` are documented this way (the gateway's API, not its pages).
    """
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Jeton d'accès (RS256) délivré par identity : `Authorization: Bearer …`",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    extra = extra_statuses or {}
    for route in api_routes(routes):
        if not route.include_in_schema or not route.path_format.startswith(prefix):
            continue
        for method in route.methods:
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            bearer, statuses = statuses_of(route, method.lower(), relayed=relayed)
            statuses |= set(extra.get(f"{method.upper()} {route.path_format}", ()))
            operation["security"] = [{SCHEME: []}] if bearer else []
            responses = operation.setdefault("responses", {})
            # The statuses found, and those the route declared itself (with its wording,
            # FastAPI's generic « Validation Error » aside): all problem+json.
            declared = {int(c) for c in responses if c.isdigit() and int(c) >= 400}
            for status in sorted(statuses | declared):
                wording = responses.get(str(status), {}).get("description")
                responses[str(status)] = _problem(
                    status, None if wording == "Validation Error" else wording)
    used = str(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in used:
            schemas.pop(name, None)
    return schema


def document_api(app: FastAPI, *, relayed: bool = False, prefix: str = "",
                 extra_statuses: dict[str, Iterable[int]] | None = None) -> None:
    """Make `app.openapi()` (and `/openapi.json`) the documented version; idempotent."""
    if getattr(app.state, "openapi_documented", False):
        return
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not done:  # FastAPI caches its document in `app.openapi_schema`: process it once
            done.append(document(generate(), app.routes, relayed=relayed, prefix=prefix,
                                 extra_statuses=extra_statuses))
            app.openapi_schema = done[0]
        return done[0]

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.openapi_documented = True
