"""Unit tests of the chassis pieces that need no I/O."""

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel

from marelle_chassis.auth import (
    AUDIENCE,
    ISSUER,
    Principal,
    TokenVerifier,
    principal_dependency,
    require_parent,
    require_staff,
    verifier_from_app,
)
from marelle_chassis.db import normalise_url
from marelle_chassis.errors import NotFound, install_problem_handlers
from marelle_chassis.settings import ServiceSettings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(key=KEY, kid="k1"):
    import json
    return {"keys": [{**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}]}


def token(claims, key=KEY, kid="k1", ttl=60):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


class Item(BaseModel):
    name: str
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(jwks=jwks())
    current = principal_dependency(verifier_from_app)

    @app.get("/missing")
    async def missing():
        raise NotFound("Cette inscription n'existe pas.")

    @app.post("/items")
    async def items(item: Item):
        return item

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    @app.get("/staff")
    async def staff(p: Principal = Depends(require_staff(current, ["administrator"]))):
        return {"sub": p.subject}

    @app.get("/parent")
    async def parent(p: Principal = Depends(require_parent(current))):
        return {"family": str(p.family_id)}

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_domain_error_is_problem_json_in_french(client):
    r = await client.get("/missing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "Cette inscription n'existe pas."
    assert r.json()["status"] == 404


async def test_invalid_body_lists_fields_in_french(client):
    r = await client.post("/items", json={"name": "x", "count": "beaucoup"})
    assert r.status_code == 422
    body = r.json()
    assert body["erreurs"] == [{"champ": "count", "message": "Un nombre entier est attendu."}]
    assert "count" in body["detail"]
    r = await client.post("/items", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


async def test_unexpected_error_hides_internals(client):
    r = await client.get("/boom")
    assert r.status_code == 500
    assert "secret" not in r.text
    assert r.json()["detail"].startswith("Une erreur inattendue")


async def test_unknown_route_is_french_problem(client):
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json()["detail"] == "La ressource demandée n'existe pas."


async def test_staff_endpoint_needs_a_staff_token_with_the_role(client):
    assert (await client.get("/staff")).status_code == 401
    parent = token({"sub": "p1", "kind": "parent", "family_id": str(uuid.uuid4())})
    r = await client.get("/staff", headers={"Authorization": f"Bearer {parent}"})
    assert r.status_code == 403
    manager = token({"sub": "s1", "kind": "staff", "roles": ["manager"]})
    assert (await client.get("/staff", headers={"Authorization": f"Bearer {manager}"})).status_code == 403
    admin = token({"sub": "s2", "kind": "staff", "roles": ["administrator"]})
    r = await client.get("/staff", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and r.json() == {"sub": "s2"}


async def test_forged_expired_and_garbage_tokens_are_refused(client):
    forged = token({"sub": "s", "kind": "staff", "roles": ["administrator"]}, key=OTHER_KEY)
    expired = token({"sub": "s", "kind": "staff", "roles": ["administrator"]}, ttl=-10)
    for bad in (forged, expired, "garbage"):
        r = await client.get("/staff", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    r = await client.get("/staff", headers={"Authorization": f"Bearer {expired}"})
    assert "expiré" in r.json()["detail"]


async def test_parent_token_is_scoped_to_its_family(client):
    family = uuid.uuid4()
    parent = token({"sub": "p1", "kind": "parent", "family_id": str(family)})
    r = await client.get("/parent", headers={"Authorization": f"Bearer {parent}"})
    assert r.json() == {"family": str(family)}
    staff = token({"sub": "s", "kind": "staff", "roles": ["administrator"]})
    assert (await client.get("/parent", headers={"Authorization": f"Bearer {staff}"})).status_code == 403


def test_unprefixed_kafka_setting_wins_and_sqlite_is_the_default(monkeypatch, tmp_path):
    class DemoSettings(ServiceSettings):
        service_name = "demo"

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:1234")
    monkeypatch.setenv("MARELLE_VAR_DIR", str(tmp_path))
    settings = DemoSettings()
    assert settings.kafka_bootstrap_servers == "broker:1234"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/demo.sqlite3"


def test_plain_database_urls_get_async_drivers():
    assert normalise_url("postgresql://u:p@h:5/db") == "postgresql+asyncpg://u:p@h:5/db"
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


async def test_unreachable_identity_is_a_503_not_a_bad_token():
    def down(request):
        raise httpx.ConnectError("refused", request=request)

    verifier = TokenVerifier("http://identity.test/.well-known/jwks.json",
                             transport=httpx.MockTransport(down))
    from marelle_chassis.domain_errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):
        await verifier.verify(token({"sub": "s", "kind": "staff"}))


async def test_jwks_is_fetched_and_a_rotated_key_is_picked_up():
    calls = []

    def serve(request):
        calls.append(request.url.path)
        return httpx.Response(200, json=jwks(OTHER_KEY, kid="k2") if len(calls) > 1 else jwks())

    verifier = TokenVerifier("http://identity.test/.well-known/jwks.json", min_refresh=0,
                             transport=httpx.MockTransport(serve))
    assert (await verifier.verify(token({"sub": "a", "kind": "staff"}))).subject == "a"
    rotated = token({"sub": "b", "kind": "staff"}, key=OTHER_KEY, kid="k2")
    assert (await verifier.verify(rotated)).subject == "b"
    assert len(calls) == 2


async def test_an_unreachable_database_is_a_french_503_never_a_500():
    import sqlite3

    from sqlalchemy.exc import OperationalError

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/locked")
    async def locked() -> None:
        raise OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("x")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        busy = await client.get("/locked")
        broken = await client.get("/bug")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert "momentanément indisponible" in busy.json()["detail"]
    assert broken.status_code == 500


async def test_a_token_verified_once_is_still_refused_once_expired_revoked_or_its_key_withdrawn(
        monkeypatch):
    """Verified tokens are remembered (the RSA check is the costly part), never their validity:
    expiry, revocation and the signing key are checked at every request."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from marelle_chassis import auth
    from marelle_chassis.revocations import Revocations

    decoded = []
    real_verify = auth.jws.verify
    monkeypatch.setattr(auth.jws, "verify",
                        lambda *a, **k: decoded.append(1) or real_verify(*a, **k))
    revocations = Revocations()
    verifier = TokenVerifier(jwks=jwks(), revocations=revocations)
    parent = token({"sub": "p", "kind": "parent", "family_id": str(uuid.uuid4()), "sid": "s1"})
    for _ in range(3):
        assert (await verifier.verify(parent)).subject == "p"
    assert len(decoded) == 1, "the signature is checked once per token, not per request"

    revocations.revoke("p", "s1", datetime.now(UTC) + timedelta(seconds=1))
    with pytest.raises(Exception, match="session a été fermée"):
        await verifier.verify(parent)

    short = token({"sub": "s", "kind": "staff"}, ttl=1)
    assert (await verifier.verify(short)).subject == "s"
    await asyncio.sleep(2.1)  # past its `exp`
    with pytest.raises(Exception, match="expiré"):
        await verifier.verify(short)

    staff = token({"sub": "s", "kind": "staff"})
    assert (await verifier.verify(staff)).subject == "s"
    verifier._load(jwks(OTHER_KEY, kid="k2"))  # the key that signed it is withdrawn
    with pytest.raises(Exception, match="clé inconnue"):
        await verifier.verify(staff)


@pytest.mark.parametrize("garbage", [
    "", "abc", "!!!.e30.x", "e30.e30.x", "WyJhIl0.e30.x",  # no kid, `["a"]` as header
    "eyJraWQiOlsiazEiXX0.e30.x",  # a kid that is not a string
    "eyJraWQiOiJrMSJ9",  # a header alone
])
async def test_an_unreadable_token_is_a_french_401_never_a_500(garbage):
    from marelle_chassis.domain_errors import Unauthorized as Refused

    with pytest.raises(Refused):
        await TokenVerifier(jwks=jwks()).verify(garbage)
