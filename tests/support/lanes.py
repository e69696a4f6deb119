"""Counting what a fast lane (chassis/fastlane.py) answers itself: its handlers wrapped before
the app is built, so that a test tells the lane's answers from the route's."""

from __future__ import annotations

from typing import Any

from marelle_chassis.fastlane import Lane


def count_lane_answers(monkeypatch: Any, *modules: Any) -> dict[str, int]:
    """Wrap the `lanes` of each module; `counted["lane"]` grows by one per answer (not per
    request the lane leaves to its route)."""
    counted = {"lane": 0}

    def counting(handler: Any) -> Any:
        async def wrapped(request: Any) -> Any:
            response = await handler(request)
            counted["lane"] += response is not None
            return response
        return wrapped

    for module in modules:
        monkeypatch.setattr(module, "lanes", [Lane(lane.method, lane.path, counting(lane.handler))
                                              for lane in module.lanes])
    return counted
