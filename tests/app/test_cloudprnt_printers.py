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
