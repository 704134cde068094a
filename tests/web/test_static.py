"""The web files as the server serves them (no browser): the vendored files equal their recorded
SHA-256, /docs loads nothing from another origin, and the pages carry their security headers."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.config import Environment, Settings
from app.main import create_app
from app.web import STATIC_DIR
from tests.world import ADMIN_TOKEN

MANIFEST = json.loads((STATIC_DIR / "vendor" / "vendor.json").read_text())
VENDORED = [
    (package, spec["path"], spec["sha256"])
    for package, entry in MANIFEST.items()
    for spec in entry["files"].values()
]


@pytest.fixture
async def web(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        env=Environment.PRODUCTION, database_url=sqlite_url, admin_token=ADMIN_TOKEN
    )
    app = create_app(settings, run_sweeper=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://printrelay.test") as c:
            yield c


@pytest.mark.parametrize(("package", "path", "sha256"), VENDORED)
async def test_served_vendored_files_equal_their_recorded_sha256(
    web: httpx.AsyncClient, package: str, path: str, sha256: str
) -> None:
    r = await web.get(f"/vendor/{path}")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == sha256, f"{package}: {path}"


def test_every_vendored_package_records_version_licence_and_licence_text() -> None:
    for package, entry in MANIFEST.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), package
        assert entry["license"] in ("MIT", "Apache-2.0"), package
        assert entry["integrity"].startswith("sha512-"), package
        assert any(Path(spec["path"]).name == "LICENSE" for spec in entry["files"].values())
    # Nothing vendored that the record does not name.
    on_disk = {
        str(p.relative_to(STATIC_DIR / "vendor"))
        for p in (STATIC_DIR / "vendor").rglob("*")
        if p.is_file() and p.name != "vendor.json"
    }
    assert on_disk == {path for _, path, _ in VENDORED}


async def test_docs_load_only_from_this_server(web: httpx.AsyncClient) -> None:
    r = await web.get("/docs")
    assert r.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    urls += re.findall(r"""url:\s*["']([^"']+)["']""", r.text)
    assert len(urls) >= 4  # the script, the stylesheet, the icon, the schema
    assert [u for u in urls if not u.startswith("/")] == []
    assert '"validatorUrl": null' in r.text  # no schema sent to an online validator
    for url in urls:
        assert (await web.get(url)).status_code == 200, url
    assert (await web.get("/redoc")).status_code == 404  # off: it would load a CDN


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/bridge/", "text/html"),
        ("/bridge/bridge.js", "text/javascript"),
        ("/console/", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/sdk/printrelay.js", "text/javascript"),
        ("/web/printrelay.css", "text/css"),
    ],
)
async def test_pages_and_modules_carry_their_policy(
    web: httpx.AsyncClient, path: str, media_type: str
) -> None:
    r = await web.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media_type)
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    # Images: this server's, data: and blob: (the console's fetched PNGs); nowhere else.
    assert "img-src 'self' data: blob:;" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_pages_name_no_other_origin(web: httpx.AsyncClient) -> None:
    sdk = [f"/sdk/{p.name}" for p in (STATIC_DIR / "sdk").glob("*.js")]
    assert len(sdk) == 4
    console = [f"/console/{p.name}" for p in (STATIC_DIR / "console").glob("*.*")]
    assert len(console) == 7  # index.html, console.css and five modules
    for path in ("/bridge/", "/bridge/bridge.js", *sdk, *console, "/web/printrelay.css"):
        text = (await web.get(path)).text
        assert re.findall(r"https?://", text) == [], path


async def test_a_missing_file_is_404(web: httpx.AsyncClient) -> None:
    assert (await web.get("/sdk/nothing.js")).status_code == 404
    assert (await web.get("/vendor/../main.py")).status_code == 404
