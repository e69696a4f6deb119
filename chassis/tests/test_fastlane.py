"""The fast lane (chassis/fastlane.py) answers its routes' plain requests itself, and hands
everything else to the app with the body intact: the app's own answer (French problem+json),
never a lost body, never a second answer."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from marelle_chassis.domain_errors import Conflict
from marelle_chassis.errors import domain_problem, install_problem_handlers
from marelle_chassis.fastlane import FastLane, FastRequest, Lane


class Item(BaseModel):
    name: str


def app_with_lane() -> tuple[FastAPI, dict[str, int]]:
    calls = {"lane": 0, "route": 0}
    application = FastAPI()
    install_problem_handlers(application)

    @application.post("/things/{thing_id}/items", status_code=202)
    async def route(thing_id: str, item: Item, request: Request) -> dict[str, str]:
        calls["route"] += 1
        if item.name == "conflit":
            raise Conflict("Déjà pris.")
        return {"by": "route", "thing": thing_id, "name": item.name}

    async def lane(fast: FastRequest) -> JSONResponse | None:
        calls["lane"] += 1
        if fast.bearer() != "good":
            return None
        try:
            item = Item.model_validate_json(fast.body)
        except ValueError:
            return None
        if item.name == "conflit":
            raise Conflict("Déjà pris.")
        return JSONResponse({"by": "lane", "thing": fast.params["thing_id"], "name": item.name},
                            status_code=202)

    application.add_middleware(FastLane, lanes=[Lane("POST", "/things/{thing_id}/items", lane)],
                               on_domain_error=domain_problem)
    return application, calls


async def post(application: FastAPI, url: str, *, token: str | None = None,
               content: bytes = b'{"name": "pomme"}') -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://t") as client:
        return await client.post(url, content=content, headers=headers)


async def test_a_plain_request_is_answered_by_the_lane_alone():
    application, calls = app_with_lane()
    response = await post(application, "/things/t1/items", token="good")
    assert response.status_code == 202
    assert response.json() == {"by": "lane", "thing": "t1", "name": "pomme"}
    assert calls == {"lane": 1, "route": 0}


async def test_what_the_lane_declines_reaches_the_route_with_its_body():
    application, calls = app_with_lane()
    response = await post(application, "/things/t1/items", token="other")
    assert response.json() == {"by": "route", "thing": "t1", "name": "pomme"}
    assert calls == {"lane": 1, "route": 1}


async def test_an_invalid_body_gets_the_apps_french_422():
    application, calls = app_with_lane()
    response = await post(application, "/things/t1/items", token="good", content=b'{"nom": 1}')
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "invalides" in response.json()["detail"]
    assert calls == {"lane": 1, "route": 0}  # FastAPI refused it before the route


async def test_a_domain_error_in_the_lane_is_the_apps_problem_json_once():
    application, calls = app_with_lane()
    in_lane = await post(application, "/things/t1/items", token="good",
                         content=b'{"name": "conflit"}')
    by_route = await post(application, "/things/t1/items", token="other",
                          content=b'{"name": "conflit"}')
    assert in_lane.status_code == by_route.status_code == 409
    assert in_lane.json() == by_route.json()
    assert in_lane.json()["detail"] == "Déjà pris."
    assert calls == {"lane": 2, "route": 1}  # the lane's conflict was not run again


async def test_other_routes_and_methods_are_untouched():
    application, calls = app_with_lane()
    response = await post(application, "/things/t1/items/extra", token="good")
    assert response.status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://t") as client:
        assert (await client.get("/things/t1/items")).status_code == 405
    assert calls == {"lane": 0, "route": 0}


async def test_a_body_beyond_the_lanes_bound_goes_to_the_app_whole():
    application, calls = app_with_lane()
    name = "x" * (70 * 1024)
    response = await post(application, "/things/t1/items", token="good",
                          content=f'{{"name": "{name}"}}'.encode())
    assert response.json()["by"] == "route" and response.json()["name"] == name
    assert calls == {"lane": 0, "route": 1}
