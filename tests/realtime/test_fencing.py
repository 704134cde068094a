"""An owner that stops heartbeating past its lock's TTL (paused, or its lock deleted) loses the
device to the next socket, and nothing it says afterwards is accepted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.realtime.clients import bridge
from tests.realtime.conftest import TEST_SERVER_ENV, Mode
from tests.servers import running_server
from tests.world import World

SHORT_TTL_S = 1.0


@pytest.fixture(scope="module")
def short_ttl_server(mode: Mode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**TEST_SERVER_ENV, **mode.env, "PRINTRELAY_OWNER_LOCK_TTL_S": str(SHORT_TTL_S)}
    with running_server(
        mode.database_url, cwd=tmp_path_factory.mktemp("ttl"), extra_env=env
    ) as url:
        yield url


@pytest.fixture
async def ttl_rest(short_ttl_server: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=short_ttl_server, timeout=30) as client:
        yield World(client, app=None)


async def test_a_silent_owner_is_fenced_out_once_another_socket_takes_over(
    short_ttl_server: str, ttl_rest: World, tmp_path: Path
) -> None:
    tenant = await ttl_rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    held, fresh = await tenant.job(location), await tenant.job(location)

    old = await bridge(short_ttl_server, device.token).connect()
    new = None
    try:
        e_old = (await old.wait_for("bridge.owner"))[0]["epoch"]
        assert (await old.call("print_job.claim", {"id": held["id"], "epoch": e_old}))["ok"]

        await asyncio.sleep(SHORT_TTL_S * 1.5)  # the old owner goes silent past its TTL
        new = await bridge(short_ttl_server, device.token).connect()
        e_new = (await new.wait_for("bridge.owner"))[0]["epoch"]
        assert e_new > e_old

        # Everything the old owner says now is refused: claims and reports alike.
        claim = await old.call("print_job.claim", {"id": fresh["id"], "epoch": e_old})
        report = await old.call(
            "print_job.report", {"id": held["id"], "epoch": e_old, "status": "printed"}
        )
        assert claim["error"]["code"] == "stale_epoch"
        assert report["error"]["code"] == "stale_epoch"
        assert (await old.call("heartbeat"))["owner"] is False
        r = await ttl_rest.client.get(f"/v1/print-jobs/{held['id']}", headers=tenant.manager)
        assert r.json()["status"] == "sent"  # the stale report changed nothing
        r = await ttl_rest.client.patch(
            f"/v1/print-jobs/{fresh['id']}",
            json={"status": "sent", "epoch": e_old},
            headers=device.headers,
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "stale_epoch"

        # The new owner finishes the job the device claimed under its earlier epoch.
        done = await new.call(
            "print_job.report", {"id": held["id"], "epoch": e_new, "status": "printed"}
        )
        assert done["ok"] and done["job"]["status"] == "printed"
    finally:
        await old.close()
        if new is not None:
            await new.close()


async def test_a_lapsed_lock_nobody_took_is_retaken_by_the_heartbeat(
    short_ttl_server: str, ttl_rest: World
) -> None:
    tenant = await ttl_rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    b = await bridge(short_ttl_server, device.token).connect()
    try:
        e1 = (await b.wait_for("bridge.owner"))[0]["epoch"]
        await asyncio.sleep(SHORT_TTL_S * 1.5)
        beat = await b.call("heartbeat")
        assert beat["owner"] is True and beat["epoch"] > e1
        owners = await b.wait_for("bridge.owner", 2)
        assert owners[-1]["epoch"] == beat["epoch"]
    finally:
        await b.close()
