"""Secrets sent by mistake in a URL are refused and never reach the access log (issue 19, item 24).

A real ``printrelay serve`` at ``--log-level info`` (uvicorn's access log on), its output read
from the file it writes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.serving import REDACTED, RedactSecrets, redact_secrets
from tests.servers import free_port, wait_healthy
from tests.world import ADMIN_TOKEN

pytestmark = pytest.mark.slow

API_KEY = "prk_" + "A1b2-C3d4_" * 4
DEVICE_TOKEN = "prd_" + "Z9y8_x7W6-" * 4


def _a_cloudprnt_printer(url: str) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    tenant = httpx.post(f"{url}/v1/tenants", json={"name": "Log"}, headers=admin).json()
    manager = {"Authorization": f"Bearer {tenant['api_key']['secret']}"}
    location = httpx.post(f"{url}/v1/locations", json={"name": "L"}, headers=manager).json()
    body = {"location_id": location["id"], "name": "Star"}
    printer = httpx.post(f"{url}/v1/cloudprnt-printers", json=body, headers=manager).json()
    server_url: str = printer["server_url"]
    return server_url


def test_secrets_in_query_strings_are_masked_in_a_real_servers_access_log(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "PRINTRELAY_ENV": "production",
        "PRINTRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
        "PRINTRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    env.pop("PRINTRELAY_REDIS_URL", None)
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "info"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        wait_healthy(url, proc, log_path)
        sent = {
            f"/v1/devices?token={DEVICE_TOKEN}": 401,
            f"/v1/print-jobs?api_key={API_KEY}&limit=5": 401,
            f"/v1/api-keys?admin={ADMIN_TOKEN}": 401,
            f"/v1/locations?secret=hunter2-not-prefixed&x={API_KEY}": 401,
        }
        for path, status in sent.items():
            r = httpx.get(url + path)
            assert r.status_code == status, (path, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
        printer_url = _a_cloudprnt_printer(url)  # its secret is in its URL by design
        poll = {"statusCode": "200%20OK", "printerMAC": "00:11:62:0a:0b:0c"}
        assert httpx.post(printer_url, json=poll).status_code == 200
        assert httpx.get(printer_url + "?mac=00%3A11%3A62%3A0a%3A0b%3A0c").status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = log_path.read_text()
    printer_secret = printer_url.rsplit("/", 1)[1]
    for secret in (API_KEY, DEVICE_TOKEN, ADMIN_TOKEN, "hunter2", printer_secret):
        assert secret not in log, secret
    assert f'"POST /cloudprnt/prc_{REDACTED} HTTP/1.1" 200' in log, log
    assert f'"GET /cloudprnt/prc_{REDACTED}?mac=' in log
    # The lines are there, with the secrets' places marked.
    assert f'"GET /v1/devices?token={REDACTED} HTTP/1.1" 401' in log, log
    assert f"/v1/print-jobs?api_key={REDACTED}&limit=5 " in log
    assert f"/v1/api-keys?admin={REDACTED} " in log
    assert f"/v1/locations?secret={REDACTED}&x=prk_{REDACTED} " in log


def test_the_filter_masks_prefixed_secrets_anywhere_and_keeps_everything_else() -> None:
    assert redact_secrets(f"/v1/x/{DEVICE_TOKEN}/y?a=1") == f"/v1/x/prd_{REDACTED}/y?a=1"
    assert (
        redact_secrets("/v1/print-jobs?limit=5&cursor=abc") == "/v1/print-jobs?limit=5&cursor=abc"
    )
    assert redact_secrets("/a?b=s3cret", ("s3cret",)) == f"/a?b={REDACTED}"
    record = logging.LogRecord(
        "uvicorn.access", 20, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/v1/devices?token={DEVICE_TOKEN}", "1.1", 401), None,
    )  # fmt: skip
    assert RedactSecrets().filter(record)
    assert record.args == ("127.0.0.1:5", "GET", f"/v1/devices?token={REDACTED}", "1.1", 401)
