"""The services' token check (chassis/jws.py) against PyJWT, the library identity signs with:
every token PyJWT refuses is refused, every token identity issues is accepted with the same
claims, and the classic forgeries fail."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from marelle_chassis import jws
from marelle_chassis.auth import AUDIENCE, ISSUER

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {"k1": jwt.PyJWK.from_dict({**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())),
                                   "kid": "k1"}).key}
NOW = time.time()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims=None, headers=None, key=KEY, algorithm="RS256", **overrides) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "iat": int(NOW) - 5,
            "exp": int(NOW) + 600, **(claims or {})}
    for name, value in overrides.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": "k1", **(headers or {})})


def pyjwt_accepts(token: str) -> bool:
    try:
        jwt.decode(token, KEYS["k1"], algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER,
                   options={"require": ["exp", "sub", "iat"]})
    except (jwt.PyJWTError, ValueError):
        return False
    return True


def ours(token: str) -> dict:
    return jws.verify(token, KEYS, audience=AUDIENCE, issuer=ISSUER, now=time.time())


def with_segment(token: str, index: int, raw: bytes) -> str:
    parts = token.split(".")
    parts[index] = b64(raw)
    return ".".join(parts)


def resigned(header: dict, payload: dict, key=KEY) -> str:
    """A token whose header and payload are exactly these JSON values, signed RS256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


GOOD = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "iat": int(NOW) - 5, "exp": int(NOW) + 600}
VALID = {
    "plain": signed(),
    "aud as a list": signed(aud=["autre", AUDIENCE]),
    "nbf past": signed(nbf=int(NOW) - 1),
    "extra claims": signed({"kind": "parent", "family_id": "f", "roles": [], "sid": "s",
                           "jti": "j", "email": "a@b.fr", "name": "Élodie"}),
    "float times": resigned({"alg": "RS256", "kid": "k1", "typ": "JWT"},
                            {**GOOD, "iat": NOW - 5.5, "exp": NOW + 600.5}),
}
FORGED = {
    "expired": signed(exp=int(NOW) - 1),
    "iat in the future": signed(iat=int(NOW) + 600),
    "nbf in the future": signed(nbf=int(NOW) + 600),
    "other audience": signed(aud="autre"),
    "audience list without ours": signed(aud=["autre"]),
    "audience list with a number": resigned({"alg": "RS256", "kid": "k1"},
                                            {**GOOD, "aud": [AUDIENCE, 3]}),
    "no audience": signed(aud=None),
    "other issuer": signed(iss="quelqu'un"),
    "no issuer": signed(iss=None),
    "no exp": signed(exp=None),
    "no iat": signed(iat=None),
    "no sub": signed(sub=None),
    "sub not a string": signed(sub=12),
    "jti not a string": signed(jti=12),
    "exp as text": resigned({"alg": "RS256", "kid": "k1"}, {**GOOD, "exp": "soon"}),
    "payload a list": resigned({"alg": "RS256", "kid": "k1"}, [GOOD]),  # type: ignore[arg-type]
    "header a list": resigned(["RS256"], GOOD),  # type: ignore[arg-type]
    "signed by another key": signed(key=OTHER),
    "alg none": f"{b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}."
                f"{b64(json.dumps(GOOD).encode())}.",
    "alg HS256 keyed with the public key": jwt.api_jws.PyJWS().encode(
        json.dumps(GOOD).encode(), b"not-the-rsa-key-but-a-secret-of-32-bytes",
        algorithm="HS256", headers={"kid": "k1"}),
    "alg RS512": signed(algorithm="RS512"),
    "alg ES256": signed(key=ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
    "unknown kid": signed(headers={"kid": "k9"}),
    "crit extension": signed(headers={"crit": ["exp"]}),
    "payload swapped after signing": with_segment(signed(), 1,
                                                  json.dumps({**GOOD, "sub": "admin"}).encode()),
    "signature truncated": signed()[:-4],
    "signature of another token": ".".join(signed().split(".")[:2]
                                           + [signed(sub="u2").split(".")[2]]),
    "padding": signed() + "==",
    "non-alphabet characters": signed()[:-2] + "!!",
    "two segments": ".".join(signed().split(".")[:2]),
    "four segments": signed() + ".e30",
    "not ascii": signed()[:-1] + "é",
    "empty": "",
}


@pytest.mark.parametrize("name", VALID)
def test_what_identity_issues_is_accepted_with_pyjwts_claims(name):
    token = VALID[name]
    assert pyjwt_accepts(token)
    assert ours(token) == jwt.decode(token, KEYS["k1"], algorithms=["RS256"], audience=AUDIENCE,
                                     issuer=ISSUER)


@pytest.mark.parametrize("name", FORGED)
def test_what_pyjwt_refuses_is_refused(name):
    token = FORGED[name]
    # PyJWT is lenient on padding; it is handed the key itself (the kid chooses ours).
    if name not in ("padding", "unknown kid"):
        assert not pyjwt_accepts(token), "the case is a forgery for PyJWT too"
    with pytest.raises(jws.Refused):
        ours(token)


def test_stricter_than_pyjwt_where_it_is_lenient():
    """PyJWT accepts trailing « = » (issuers that pad) and `exp` as text; identity never
    issues either: one spelling per token, numbers as numbers."""
    assert pyjwt_accepts(FORGED["padding"])
    with pytest.raises(jws.Refused):
        ours(FORGED["padding"])


def test_an_expired_token_is_told_apart():
    with pytest.raises(jws.Expired):
        ours(FORGED["expired"])
    with pytest.raises(jws.Refused) as refused:
        ours(FORGED["other issuer"])
    assert not isinstance(refused.value, jws.Expired)


def test_a_non_canonical_last_character_is_refused():
    """Base64 letters whose spare bits are set decode to the same bytes: the same signature
    would have several spellings (a token denylisted by its text could come back)."""
    token = signed()
    head, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 256 bytes are 342 letters with 4 spare bits: flipping the lowest changes no byte.
    twin = alphabet[alphabet.index(signature[-1]) ^ 1]
    variant = f"{head}.{payload}.{signature[:-1]}{twin}"
    assert base64.urlsafe_b64decode(variant.split(".")[2] + "==") == \
        base64.urlsafe_b64decode(signature + "==")
    with pytest.raises(jws.Refused):
        ours(variant)
    assert ours(token)["sub"] == "u1"


def test_the_kid_is_read_from_a_well_formed_header_only():
    assert jws.header_kid(signed()) == "k1"
    for garbage in ("", "abc", "!!!.e30.x", "e30.e30.x", "WyJhIl0.e30.x",
                    "eyJraWQiOlsiazEiXX0.e30.x", "eyJraWQiOiJrMSJ9"):
        with pytest.raises(jws.Refused):
            jws.header_kid(garbage)
