"""Fixtures of the browser tests: a real server on loopback (SQLite, one per module), Debian's
Chromium driven by Playwright (one per module), and a fresh browser context per test whose
pages have a fake WebSerial and WebUSB printer (tests/web/fake_printers.js) and whose every
request is recorded, so a test can show that nothing left loopback.

Chromium is /usr/bin/chromium (Debian's package; .ci/run installs it). Locally the tests skip
without it; with CI=true they fail instead."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import databases
from tests.servers import running_server
from tests.world import ADMIN, DOCUMENT, bearer

CHROMIUM = os.environ.get("PRINTRELAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FAKE_PRINTERS = (Path(__file__).parent / "fake_printers.js").read_text()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 15_000  # how long a page may take to reach a state (a wait, not an assertion)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("web-server")
    env = {"PRINTRELAY_PAIRING_RATE_LIMIT": "10000"}
    with running_server(f"sqlite:///{cwd / 'web.db'}", cwd=cwd, extra_env=env) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        databases.require_service(f"Chromium ({CHROMIUM})", False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Requests(list[str]):
    """Every URL the context's pages asked for, websockets included."""

    def outside(self, server: str) -> list[str]:
        host = server.split("//", 1)[1]
        return [u for u in self if u.split("//", 1)[-1].split("/", 1)[0] != host]


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()


@pytest.fixture
def context(browser: Any, server: str, requests_seen: Requests) -> Iterator[Any]:
    """A fresh profile (own localStorage) with fake printers; asserts at the end that no page of
    it requested anything but this server."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    ctx = browser.new_context(viewport={"width": 900, "height": 760}, locale="en-US")
    ctx.set_default_timeout(WAIT_MS)
    ctx.add_init_script(FAKE_PRINTERS)
    ctx.on("request", lambda request: requests_seen.append(request.url))
    ctx.on("page", lambda page: page.on("websocket", lambda ws: requests_seen.append(ws.url)))
    yield ctx
    ctx.close()
    assert requests_seen.outside(server) == []


class Shop:
    """A tenant with a location and a station, driven over REST as a manager (sync: the
    browser tests run outside an event loop)."""

    def __init__(self, server: str) -> None:
        self.http = httpx.Client(base_url=server, timeout=30)
        r = self.http.post("/v1/tenants", json={"name": "Cafe"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        self.manager_key = r.json()["api_key"]["secret"]
        self.manager = bearer(self.manager_key)
        self.location_id = self.post("/v1/locations", {"name": "Main"})["id"]
        self.station_id = self.post(
            f"/v1/locations/{self.location_id}/stations", {"name": "COCINA"}
        )["id"]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body, headers=self.manager)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    def pos_key(self) -> str:
        return str(self.post("/v1/api-keys", {"name": "till 1", "role": "pos"})["secret"])

    def pairing_code(self, station: bool = True) -> str:
        body = {
            "location_id": self.location_id,
            "station_id": self.station_id if station else None,
            "kind": "web_bridge",
        }
        return str(self.post("/v1/pairing-codes", body)["code"])

    def submit(self, **fields: Any) -> dict[str, Any]:
        body = {"location_id": self.location_id, "station_id": self.station_id}
        return self.post("/v1/print-jobs", {**body, "document": DOCUMENT, **fields})

    def job(self, job_id: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/print-jobs/{job_id}", headers=self.manager)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def render(self, job_id: str, fmt: str = "escpos") -> bytes:
        r = self.http.get(
            f"/v1/print-jobs/{job_id}/render", params={"format": fmt}, headers=self.manager
        )
        assert r.status_code == 200, r.text
        return r.content

    def devices(self) -> list[dict[str, Any]]:
        r = self.http.get(
            "/v1/devices", params={"location_id": self.location_id}, headers=self.manager
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    def wait_for(self, what: Callable[[], Any], description: str, page: Any = None) -> Any:
        """Polls ``what`` until it is truthy; fails after WAIT_MS with ``description``. With a
        ``page``, it waits through Playwright, which meanwhile runs the test's route and event
        handlers (the sync API runs them only while it is called)."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            result = what()
            if result:
                return result
            if page is not None:
                page.wait_for_timeout(50)
            else:
                time.sleep(0.05)
        pytest.fail(f"gave up waiting: {description}")


@pytest.fixture
def shop(server: str) -> Iterator[Shop]:
    shop = Shop(server)
    yield shop
    shop.http.close()


def screenshot(page: Any, name: str, prefix: str = "bridge") -> None:
    """docs/screenshots/PREFIX-NAME.png, regenerated by every run."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{prefix}-{name}.png"), full_page=True)
