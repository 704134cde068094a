"""``POST /v1/cloudprnt-printers`` in process: the URL is built from ``PRINTRELAY_PUBLIC_URL``
when it is set, and only the secret's hash is stored."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import Device
from tests.world import World

PUBLIC_URL = "https://print.example.com/"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC_URL})


async def test_the_url_starts_with_the_public_url_and_its_secret_is_stored_hashed(
    world: World,
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await world.client.post(
        "/v1/cloudprnt-printers",
        json={"location_id": location, "name": "Star"},
        headers=tenant.manager,
    )
    assert r.status_code == 201, r.text
    url = r.json()["server_url"]
    assert url.startswith("https://print.example.com/cloudprnt/prc_")
    secret = url.rsplit("/", 1)[1]
    async with world.app.state.db.transaction() as tx:
        stmt = select(Device).where(Device.id == uuid.UUID(r.json()["device"]["id"]))
        row = (await tx.session.execute(stmt)).scalar_one()
    assert row.token_hash == hashlib.sha256(secret.encode()).digest()
    assert secret not in repr(row.__dict__)
    assert row.cloudprnt_mac is None and row.printer_state.value == "unknown"


async def _silent_printer(world: World, interval_s: int, silent_s: float) -> uuid.UUID:
    """A CloudPRNT printer marked online, last heard ``silent_s`` ago, polling every
    ``interval_s`` (as its GetPollInterval answer said)."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.db import utcnow

    tenant = await world.tenant()
    location = await tenant.location()
    r = await world.client.post(
        "/v1/cloudprnt-printers",
        json={"location_id": location, "name": "Star"},
        headers=tenant.manager,
    )
    device_id = uuid.UUID(r.json()["device"]["id"])
    async with world.app.state.db.transaction() as tx:
        await tx.session.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(
                online=True,
                cloudprnt_poll_interval_s=interval_s,
                last_seen_at=utcnow() - timedelta(seconds=silent_s),
            )
        )
    return device_id


async def _online(world: World, device_id: uuid.UUID) -> bool:
    async with world.app.state.db.transaction() as tx:
        row = await tx.session.get(Device, device_id, populate_existing=True)
        assert row is not None
        return bool(row.online)


async def test_a_printer_is_offline_after_three_of_its_own_intervals(world: World) -> None:
    """Not after the bridges' owner-lock silence (60 s): a printer polling every 30 s is
    online 70 s after its last poll, and offline once it missed three (90 s)."""
    from app.sweeper import Sweeper

    sweeper = Sweeper(world.app.state.db, interval_s=1, device_silence_s=60)
    patient = await _silent_printer(world, interval_s=30, silent_s=70)
    gone = await _silent_printer(world, interval_s=30, silent_s=95)
    quick = await _silent_printer(world, interval_s=2, silent_s=7)
    await sweeper.run_once()
    assert await _online(world, patient) is True
    assert await _online(world, gone) is False
    assert await _online(world, quick) is False
