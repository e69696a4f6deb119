"""API documentation pages served without any CDN (municipal networks, offline machines):
Swagger UI's assets come from the `swagger-ui-bundle-v2` package."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path


def offline_docs(app: FastAPI, docs_url: str = "/docs", title: str | None = None) -> None:
    """Call on an app created with `docs_url=None`; its `openapi_url` is kept."""
    assets = f"{docs_url.rstrip('/')}-assets"
    app.mount(assets, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")

    @app.get(docs_url, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=title or app.title,
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css", swagger_favicon_url="data:,")
