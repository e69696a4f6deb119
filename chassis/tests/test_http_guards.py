"""A NUL character anywhere in the address is a French 400 problem+json, never a 500 from the
database; an address that merely looks like one (an encoded « % » before « 00 ») is served."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from marelle_chassis.http import RefuseNulMiddleware


def app() -> FastAPI:
    application = FastAPI()

    @application.get("/items/{name}")
    async def item(name: str, q: str = "") -> dict[str, str]:
        return {"name": name, "q": q}

    application.add_middleware(RefuseNulMiddleware)
    return application


@pytest.mark.parametrize("url", ["/items/a%00b", "/items/a?q=x%00y", "/items/a?q=%00",
                                 "/items/a%2F%00"])
async def test_a_nul_in_the_path_or_query_is_a_french_400(url):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()),
                                 base_url="http://t") as client:
        response = await client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "caractère nul" in response.json()["detail"]


async def test_an_encoded_percent_followed_by_zeros_is_not_a_nul():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()),
                                 base_url="http://t") as client:
        response = await client.get("/items/a%2500b?q=100%2500")
    assert response.status_code == 200
    assert response.json() == {"name": "a%00b", "q": "100%00"}
