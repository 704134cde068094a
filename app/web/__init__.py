"""The server's own web files: the manager console (``/console/``), the web bridge page
(``/bridge/``), the JS SDK (``/sdk/printrelay.js``), the vendored browser libraries
(``/vendor/``) and ``/docs`` with a vendored Swagger UI. Nothing is loaded from another origin,
so every page works on a shop network without internet. The files are plain ES modules and CSS
inside the package: no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Pages and modules come from this server only; sockets go back to it (same origin). No inline
# script or style, no framing (a page that pairs printers must not be clickjacked). Images may
# be blob: URLs: the console shows the PNGs it fetched with its key (a receipt, a QR code) that
# way, since an <img src> cannot send the Authorization header.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class WebFiles(StaticFiles):
    """Static files with the page headers: the policy above, no referrer (a pairing code may sit
    in the URL's fragment until the page removes it), revalidated on every load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_web(app: FastAPI) -> None:
    """Mount the pages, the SDK and the vendored files, and serve /docs from them. Call it on an
    app created with ``docs_url=None, redoc_url=None`` (FastAPI's own /docs loads a CDN)."""
    app.mount("/console", WebFiles(directory=STATIC_DIR / "console", html=True), name="console")
    app.mount("/bridge", WebFiles(directory=STATIC_DIR / "bridge", html=True), name="bridge")
    app.mount("/sdk", WebFiles(directory=STATIC_DIR / "sdk"), name="sdk")
    app.mount("/vendor", WebFiles(directory=STATIC_DIR / "vendor"), name="vendor")
    app.mount("/web", WebFiles(directory=STATIC_DIR / "common"), name="web-common")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png",
            # Swagger UI would send the schema to an online validator for its badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
