"""A database dump holds no secret: API keys, device tokens and pairing codes are stored only as
hashes, webhook signing secrets only encrypted (and the admin token is never stored at all)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.world import ADMIN_TOKEN, World


def dump(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with sqlite3.connect(path) as conn:
            return "\n".join(conn.iterdump())
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    parts = urlsplit(database_url)
    out = subprocess.run(
        [
            "pg_dump",
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "root",
            "--data-only",
            parts.path.lstrip("/"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout


async def test_a_database_dump_holds_no_secret(world: World, database_url: str) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    unused_code = await tenant.pairing_code(location)
    used_code = await tenant.pairing_code(location)
    r = await world.client.post("/v1/devices/pair", json={"code": used_code, "name": "b"})
    assert r.status_code == 201
    second_token = r.json()["token"]
    await tenant.job(location)
    r = await world.client.post(
        "/v1/webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["device.status"]},
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    webhook_secret = r.json()["secret"]

    text = dump(database_url)
    # The dump is real and holds this tenant's rows (SQLite stores UUIDs without dashes).
    assert tenant.id in text or tenant.id.replace("-", "") in text
    for secret in (
        tenant.manager_secret,
        tenant.pos_secret,
        device.token,
        second_token,
        unused_code,
        used_code,
        ADMIN_TOKEN,
        webhook_secret,
    ):
        assert secret not in text
        # Nor the random part alone (without the prefix).
        assert secret.split("_", 1)[-1] not in text
    assert "fernet:" in text  # the webhook's row is in the dump, encrypted
