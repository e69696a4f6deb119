"""The parents' API documentation renders in the browser without any CDN (closed networks)."""

import pytest

pytestmark = pytest.mark.browser


async def test_api_documentation_renders_offline(page, gateway_url):
    await page.goto(f"{gateway_url}/api/v1/docs")
    await page.locator(".swagger-ui .opblock").first.wait_for(timeout=20_000)
    assert "/api/v1/auth/token" in await page.locator(".swagger-ui").inner_text()
