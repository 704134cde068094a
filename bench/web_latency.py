"""``python -m bench.web_latency``: how long a job takes from submit to bytes written in a web
bridge tab (/bridge/ in headless Chromium), on loopback.

Starts ``printrelay serve`` on a fresh SQLite database (or ``--database-url``), pairs one tab as a
station web bridge, connects a fake WebSerial printer that timestamps each write, then submits
``--jobs`` jobs one after another (each once the previous one is written) and prints p50/p99/max
of submit -> first byte written. Both ends read the same system clock (the tab's
``performance.timeOrigin + performance.now()``, this process's ``time.time()``).

Needs Chromium (``--chromium``, default /usr/bin/chromium) and Playwright for Python (the test
extra). Not a test: no figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "bench-admin-token-" + "x" * 32
DOCUMENT = {
    "blocks": [
        {"type": "text", "text": "COCINA", "align": "center", "bold": True},
        {"type": "row", "left": "2x Burger", "right": "19.00"},
        {"type": "cut"},
    ]
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A serial port whose writes are timestamped in epoch milliseconds (window.__writes).
FAKE_SERIAL = """
window.__writes = [];
const port = {
  async open() {}, async close() {}, getInfo() { return {}; },
  writable: { getWriter() { return {
    async write(bytes) { window.__writes.push(performance.timeOrigin + performance.now()); },
    releaseLock() {} }; } },
};
Object.defineProperty(navigator, "serial", { value: { async requestPort() { return port; } } });
"""


def serve(database_url: str, cwd: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PRINTRELAY_ENV": "production",
        "PRINTRELAY_DATABASE_URL": database_url,
        "PRINTRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    env.pop("PRINTRELAY_REDIS_URL", None)
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [*command, "--log-level", "warning"], cwd=cwd, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become healthy in 30 s")


def setup(http: httpx.Client) -> tuple[dict[str, str], str, str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    tenant = http.post("/v1/tenants", json={"name": "Bench"}, headers=admin).json()
    manager = {"Authorization": f"Bearer {tenant['api_key']['secret']}"}
    location = http.post("/v1/locations", json={"name": "Main"}, headers=manager).json()["id"]
    station = http.post(
        f"/v1/locations/{location}/stations", json={"name": "COCINA"}, headers=manager
    ).json()["id"]
    code = http.post(
        "/v1/pairing-codes",
        json={"location_id": location, "station_id": station, "kind": "web_bridge"},
        headers=manager,
    ).json()["code"]
    return manager, location, station, code


def measure(base: str, jobs: int, chromium: str) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    with httpx.Client(base_url=base, timeout=30) as http, sync_playwright() as p:
        manager, location, station, code = setup(http)
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.add_init_script(FAKE_SERIAL)
        page.goto(f"{base}/bridge/#code={code}")
        expect(page.get_by_role("status")).to_have_text("Connected", timeout=30_000)
        page.get_by_role("button", name="Connect printer").click()
        expect(page.locator("#printer-name")).not_to_have_text("No printer connected")
        body: dict[str, Any] = {"location_id": location, "station_id": station}
        body["document"] = DOCUMENT
        latencies_ms: list[float] = []
        for n in range(jobs):
            submitted_ms = time.time() * 1000
            r = http.post("/v1/print-jobs", json=body, headers=manager)
            r.raise_for_status()
            page.wait_for_function("n => window.__writes.length > n", arg=n, timeout=30_000)
            written_ms = page.evaluate("n => window.__writes[n]", n)
            latencies_ms.append(written_ms - submitted_ms)
        browser.close()
    return latencies_ms


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_latency", description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench-web.db"
        proc = serve(url, Path(tmp), args.port)
        try:
            latencies = measure(f"http://127.0.0.1:{args.port}", args.jobs, args.chromium)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"web bridge, submit -> bytes written in the tab, {len(latencies)} jobs one at a time:")
    print(
        f"  p50 {statistics.median(latencies):.1f} ms  p99 {percentile(latencies, 0.99):.1f} ms"
        f"  max {max(latencies):.1f} ms  min {min(latencies):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
