"""Webhook signing secrets at rest: encrypted in the row, still signing with the secret shown
once; a key rotated (old key still decrypts, re-encryption moves rows to the new key); a
missing or wrong key refused clearly; clear rows from before encryption still read, then
sealed; no secret in a log."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from app.cli import development_encryption_key
from app.config import ConfigError, Settings, normalize_database_url
from app.db import Database, migrate, utcnow
from app.main import create_app
from app.models import WebhookDelivery, WebhookEndpoint
from app.secret_box import KEYS_SETTING, SecretBox, generate_key
from app.webhooks import secrets as webhook_secrets
from tests import databases
from tests.servers import running_server
from tests.webhook_receiver import Receiver, running_receiver
from tests.webhooks.support import app_with_sender, attempts_of, sender_settings, until
from tests.world import ADMIN, ADMIN_TOKEN, World, assert_error

K1, K2, K3 = generate_key(), generate_key(), generate_key()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own: re-encryption reads every tenant's rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'secrets.db'}"
        migrate.upgrade(url)
        yield url
        return
    databases.require_service("PostgreSQL", databases.postgres_reachable())
    with databases.own_postgres_database() as url:
        migrate.upgrade(url)
        yield normalize_database_url(url)


def settings_for(database_url: str, keys: str | None) -> Settings:
    return sender_settings(
        database_url,
        hot_path=False,
        encryption_keys=SecretStr(keys) if keys is not None else None,
    )


@asynccontextmanager
async def serving(database_url: str, keys: str | None) -> AsyncIterator[World]:
    """A server (webhook sender running) on ``database_url`` with these encryption keys."""
    async with app_with_sender(settings_for(database_url, keys)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://printrelay.test") as c:
            yield World(c, app)


async def stored_secret(world: World, hook: str) -> str:
    async with world.app.state.db.transaction() as tx:
        value = await tx.session.scalar(
            text("SELECT secret FROM webhook_endpoints WHERE id = :id"),
            {"id": uuid.UUID(hook).hex if world.app.state.db.dialect == "sqlite" else hook},
        )
    assert isinstance(value, str)
    return value


async def subscribe(world: World, receiver: Receiver, manager: dict[str, str]) -> str:
    r = await world.client.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["print_job.updated"]}, headers=manager
    )
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    hook: str = r.json()["id"]
    return hook


async def test_the_row_holds_no_clear_secret_and_deliveries_verify_with_the_shown_one(
    own_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(own_database_url, K1) as world:
        tenant = await world.tenant()
        location = await tenant.location()
        with running_receiver(failures=1) as receiver:
            hook = await subscribe(world, receiver, tenant.manager)
            stored = await stored_secret(world, hook)
            await tenant.job(location)
            await until(lambda: len(receiver.accepted) == 1)
    shown = receiver.secret
    assert stored.startswith("fernet:") and shown not in stored
    assert shown.removeprefix("whsec_") not in stored
    assert SecretBox([K1]).open(stored) == shown
    assert receiver.bad_signatures == 0
    assert not leaked(caplog, shown) and not leaked(caplog, stored, sealed=True)


async def test_a_rotated_key_old_rows_still_sign_then_reencryption_moves_them(
    own_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_receiver(failures=0) as receiver:
        async with serving(own_database_url, K1) as world:
            tenant = await world.tenant()
            location = await tenant.location()
            hook = await subscribe(world, receiver, tenant.manager)
            under_k1 = await stored_secret(world, hook)
        # Step 1: the new key first, the old one still there: the old row still signs.
        async with serving(own_database_url, f"{K2},{K1}") as world:
            tenant.world = world  # the same tenant, through this server
            await tenant.job(location)
            await until(lambda: len(receiver.accepted) == 1)
            report = await webhook_secrets.reseal(
                world.app.state.db, SecretBox([K2, K1]), clear_only=False
            )
            under_k2 = await stored_secret(world, hook)
            again = await webhook_secrets.reseal(
                world.app.state.db, SecretBox([K2, K1]), clear_only=False
            )
        assert (report.older_key, report.resealed, report.unreadable) == (1, 1, [])
        assert (again.current, again.resealed) == (1, 0)  # nothing left to move
        assert SecretBox([K2]).is_current(under_k2) and not SecretBox([K2]).is_current(under_k1)
        # Step 2: the old key dropped: the moved row signs with the new key alone.
        async with serving(own_database_url, K2) as world:
            tenant.world = world  # the same tenant, through this server
            await tenant.job(location)
            await until(lambda: len(receiver.accepted) == 2)
    assert receiver.bad_signatures == 0
    assert not leaked(caplog, receiver.secret) and not leaked(caplog, under_k2, sealed=True)


async def test_a_wrong_key_fails_deliveries_clearly_and_they_go_out_once_it_is_back(
    own_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_receiver(failures=0) as receiver:
        async with serving(own_database_url, K1) as world:
            tenant = await world.tenant()
            location = await tenant.location()
            hook = await subscribe(world, receiver, tenant.manager)
        async with serving(own_database_url, K3) as world:  # not the key that sealed it
            tenant.world = world  # the same tenant, through this server
            job = await tenant.job(location)
            attempts = await attempts_of(world, hook, tenant.manager, at_least=2)
            status = await delivery_status(world, job["id"])
        assert receiver.accepted == [] and status == "pending"  # retried, never sent unsigned
        assert {a["status_code"] for a in attempts} == {None}
        assert {a["error"] for a in attempts} == {
            f"signing secret not decryptable with any key of {KEYS_SETTING}"
        }
        async with serving(own_database_url, f"{K3},{K1}") as world:
            tenant.world = world  # the same tenant, through this server
            await until(lambda: len(receiver.accepted) == 1)
    assert receiver.bad_signatures == 0
    assert f"webhook {hook}: signing secret not decryptable" in caplog.text
    assert not leaked(caplog, receiver.secret)


async def test_without_a_key_no_webhook_is_created_and_a_sealed_secret_cannot_sign(
    own_database_url: str,
) -> None:
    with running_receiver(failures=0) as receiver:
        async with serving(own_database_url, K1) as world:
            tenant = await world.tenant()
            location = await tenant.location()
            hook = await subscribe(world, receiver, tenant.manager)
        async with serving(own_database_url, None) as world:
            tenant.world = world  # the same tenant, through this server
            r = await world.client.post(
                "/v1/webhooks",
                json={"url": receiver.url, "events": ["device.status"]},
                headers=tenant.manager,
            )
            body = assert_error(r, 503, "service_unavailable")
            assert KEYS_SETTING in body["error"]["message"]
            listed = (await world.client.get("/v1/webhooks", headers=tenant.manager)).json()
            assert [w["id"] for w in listed["items"]] == [hook]  # the refused one is not stored
            await tenant.job(location)
            attempts = await attempts_of(world, hook, tenant.manager, at_least=1)
    assert receiver.accepted == []
    assert attempts[0]["error"] == f"signing secret is encrypted and {KEYS_SETTING} is not set"


async def test_a_clear_secret_from_before_encryption_signs_then_is_sealed(
    own_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    legacy = "whsec_" + "L" * 43
    with running_receiver(failures=0) as receiver:
        async with serving(own_database_url, None) as world:  # an operator yet to set a key
            tenant = await world.tenant()
            location = await tenant.location()
            hook = await insert_clear_endpoint(world, tenant.id, receiver.url, legacy)
            caplog.clear()  # the test's own INSERT, in the driver's debug lines
            receiver.secret = legacy
            await tenant.job(location)
            await until(lambda: len(receiver.accepted) == 1)
            db = world.app.state.db
            survey = await webhook_secrets.reseal(db, None, clear_only=True)
            assert (survey.clear, survey.resealed) == (1, 0)
            webhook_secrets.log_report(survey)
            # What `printrelay serve` does at start once the key is set.
            sealed = await webhook_secrets.reseal(db, SecretBox([K1]), clear_only=True)
            webhook_secrets.log_report(sealed)
            stored = await stored_secret(world, str(hook))
        assert (sealed.clear, sealed.resealed) == (1, 1)
        assert stored.startswith("fernet:") and SecretBox([K1]).open(stored) == legacy
        async with serving(own_database_url, K1) as world:
            tenant.world = world  # the same tenant, through this server
            await tenant.job(location)
            await until(lambda: len(receiver.accepted) == 2)
    assert receiver.bad_signatures == 0
    assert "1 stored in clear; set PRINTRELAY_ENCRYPTION_KEYS" in caplog.text
    assert "1 encrypted with the first key" in caplog.text
    assert not leaked(caplog, legacy) and not leaked(caplog, stored, sealed=True)


def test_a_key_that_is_not_one_stops_the_server_without_showing_it() -> None:
    broken = "not-a-fernet-key-but-a-secret-all-the-same"
    settings = Settings(admin_token=ADMIN_TOKEN, encryption_keys=SecretStr(f"{K1},{broken}"))
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert "key 2 of 2 is not a Fernet key" in str(caught.value)
    assert broken not in str(caught.value) and K1 not in str(caught.value)
    assert broken not in repr(settings)


def test_reencrypt_secrets_command(own_database_url: str, tmp_path: Path) -> None:
    """The operator's command, as a process: clear and old-key rows move to the first key; a
    row no key opens is named and the exit code says so; no secret is printed."""
    legacy = "whsec_" + "C" * 43
    rows = {"clear": legacy, "k1": SecretBox([K1]).seal("whsec_" + "1" * 43)}
    ids = asyncio.run(insert_rows(own_database_url, rows))
    new_key = cli(["generate-encryption-key"], own_database_url, None, tmp_path).stdout.strip()
    out = reencrypt(own_database_url, f"{new_key},{K1}", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 encrypted with the first key (1 were in clear, 1 under an older key)" in out.stdout
    stored = asyncio.run(read_rows(own_database_url))
    assert all(SecretBox([new_key]).is_current(stored[i]) for i in ids.values())
    assert SecretBox([new_key]).open(stored[ids["clear"]]) == legacy
    out = reencrypt(own_database_url, f"{new_key},{K1}", tmp_path)
    assert "0 encrypted with the first key" in out.stdout and "2 already were" in out.stdout
    # A row sealed under a key that is gone.
    lost = asyncio.run(insert_rows(own_database_url, {"k3": SecretBox([K3]).seal("whsec_x")}))
    out = reencrypt(own_database_url, new_key, tmp_path)
    assert out.returncode == 1
    assert str(lost["k3"]) in out.stderr and "cannot be decrypted" in out.stderr
    out = reencrypt(own_database_url, None, tmp_path)
    assert out.returncode == 2 and KEYS_SETTING in out.stderr
    for secret in (legacy, *stored.values()):
        assert secret not in out.stdout + out.stderr


def test_a_development_server_keeps_its_key_in_an_owner_only_file(tmp_path: Path) -> None:
    """`make run` without the setting: `printrelay serve` makes the key beside the admin token
    and webhooks work; the same key is used after a restart."""
    env = {"PRINTRELAY_ENV": "development", KEYS_SETTING: ""}  # blank: unset
    path = tmp_path / ".printrelay" / "encryption-key"
    db_url = f"sqlite:///{tmp_path / 'dev.db'}"
    with (
        running_server(db_url, cwd=tmp_path, extra_env=env) as url,
        httpx.Client(base_url=url) as client,
    ):
        r = client.post("/v1/tenants", json={"name": "dev"}, headers=ADMIN)
        manager = {"Authorization": f"Bearer {r.json()['api_key']['secret']}"}
        body = {"url": "https://93.184.215.14/hook", "events": ["device.status"]}
        r = client.post("/v1/webhooks", json=body, headers=manager)
        assert r.status_code == 201, r.text
    key = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600
    (stored,) = asyncio.run(read_rows(db_url)).values()
    assert SecretBox([key]).open(stored) == r.json()["secret"]
    assert development_encryption_key(tmp_path / ".printrelay") == key  # stable


def test_serve_encrypts_clear_secrets_at_start_once_a_key_is_set(tmp_path: Path) -> None:
    legacy = "whsec_" + "S" * 43
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(db_url)
    (hook,) = asyncio.run(insert_rows(db_url, {"old": legacy})).values()
    with running_server(db_url, cwd=tmp_path, extra_env={KEYS_SETTING: ""}) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert asyncio.run(read_rows(db_url)) == {hook: legacy}  # no key: left as it was
    logs = "".join(p.read_text() for p in tmp_path.glob("server-*.log"))
    assert "1 stored in clear; set PRINTRELAY_ENCRYPTION_KEYS" in logs
    with running_server(db_url, cwd=tmp_path, extra_env={KEYS_SETTING: K1}) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
    stored = asyncio.run(read_rows(db_url))[hook]
    assert SecretBox([K1]).is_current(stored) and SecretBox([K1]).open(stored) == legacy
    logs = "".join(p.read_text() for p in tmp_path.glob("server-*.log"))
    assert "1 encrypted with the first key" in logs and legacy not in logs


# -- helpers ------------------------------------------------------------------------------


def leaked(caplog: pytest.LogCaptureFixture, value: str, *, sealed: bool = False) -> list[str]:
    """The loggers that wrote ``value``, at any level. A sealed value may show up in the
    database driver's DEBUG lines of SQL parameters (encrypted, that is the point), nowhere
    else."""
    return [
        f"{r.name}:{r.levelname}"
        for r in caplog.records
        if value in r.getMessage()
        and not (sealed and r.levelno <= logging.DEBUG and r.name in ("aiosqlite", "asyncpg"))
    ]


async def delivery_status(world: World, job_id: str) -> str | None:
    async with world.app.state.db.transaction() as tx:
        value: str | None = await tx.session.scalar(
            select(WebhookDelivery.status).where(WebhookDelivery.subject_id == uuid.UUID(job_id))
        )
    return value


async def insert_clear_endpoint(world: World, tenant_id: str, url: str, secret: str) -> uuid.UUID:
    """A webhook as revision 0010 stored it: the secret in clear."""
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        tenant_id=uuid.UUID(tenant_id),
        url=url,
        on_print_job=True,
        on_device_status=False,
        secret=secret,
        created_at=utcnow(),
    )
    async with world.app.state.db.transaction() as tx:
        tx.session.add(endpoint)
    return endpoint.id


async def insert_rows(database_url: str, rows: dict[str, str]) -> dict[str, uuid.UUID]:
    db = Database.from_url(normalize_database_url(database_url))
    ids = {name: uuid.uuid4() for name in rows}
    try:
        async with db.transaction() as tx:
            for name, secret in rows.items():
                tx.session.add(
                    WebhookEndpoint(
                        id=ids[name],
                        tenant_id=uuid.uuid4(),
                        url="https://93.184.215.14/hook",
                        on_print_job=True,
                        on_device_status=False,
                        secret=secret,
                        created_at=utcnow(),
                    )
                )
    finally:
        await db.dispose()
    return ids


async def read_rows(database_url: str) -> dict[uuid.UUID, str]:
    db = Database.from_url(normalize_database_url(database_url))
    try:
        async with db.transaction() as tx:
            rows = await tx.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.secret))
            return {row.id: row.secret for row in rows}
    finally:
        await db.dispose()


def reencrypt(database_url: str, keys: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli(["reencrypt-secrets"], database_url, keys, cwd)


def cli(
    args: list[str], database_url: str, keys: str | None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``printrelay ARGS`` as an operator runs it, in an environment of these settings only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env["PRINTRELAY_DATABASE_URL"] = database_url
    if keys is not None:
        env[KEYS_SETTING] = keys
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
