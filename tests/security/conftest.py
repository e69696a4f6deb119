"""The attack suite's services: each in-process on a fresh SQLite database, two households
seeded (see `services.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.services import SERVICES, open_service


@pytest.fixture(params=SERVICES)
async def target(request: pytest.FixtureRequest, tmp_path: Any):
    async with open_service(request.param, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}") as t:
        yield t
