"""Browser tests: Playwright (async API) driving Debian's Chromium, never a downloaded browser.

`gateway_url` normally comes from the repository's stack fixture (every process started).
With `MARELLE_BROWSER_STANDALONE=1`, this file starts only the gateway instead (no broker, no
database, no domain service): enough for the pages that need no upstream data, and fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.infra import ROOT, free_port, unavailable

CHROMIUM = Path("/usr/bin/chromium")
# We run as root on machines without internet: no sandbox, no background network calls.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "var" / "test-artifacts"  # var/ is git-ignored


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        unavailable("Chromium", f"{CHROMIUM} is missing; run infra/browser/install-chromium.sh")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("Playwright", "the `playwright` package is not installed in this environment")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


if os.environ.get("MARELLE_BROWSER_STANDALONE") == "1":

    @pytest.fixture(scope="session")
    def gateway_url() -> Iterator[str]:
        """Only the gateway, on a free port, its upstream services absent (they answer nothing)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        logs = ROOT / "var" / "test-logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1",
               "PYTHONUNBUFFERED": "1"}
        with (logs / "gateway-standalone.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "marelle_gateway", "serve"],
                                       env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            _wait_live(process, url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_live(process: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    # `/health/live`, not `/ready`: in standalone mode the upstream services are absent.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the gateway exited ({process.returncode}); see var/test-logs/"
                        "gateway-standalone.log", pytrace=False)
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the gateway did not answer on {url} within {timeout:.0f}s", pytrace=False)
