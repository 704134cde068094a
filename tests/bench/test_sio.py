"""bench.sio (the bench's own Socket.IO client) and the bench bridge, against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.load import BenchBridge, PosClient, Tracker, verify
from bench.server import Backend
from bench.sio import ConnectRefused, Disconnected, SioClient, websocket_url
from bench.world import World, bearer, pair_devices

WAIT_S = 5.0


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()

    def __call__(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self.changed.set()

    def of(self, name: str) -> list[Any]:
        return [d for n, d in self.events if n == name]

    async def wait_for(self, name: str, count: int = 1) -> list[Any]:
        async with asyncio.timeout(WAIT_S):
            while len(self.of(name)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.of(name)


def test_websocket_url() -> None:
    assert websocket_url("http://127.0.0.1:8000") == (
        "ws://127.0.0.1:8000/socket.io/?EIO=4&transport=websocket"
    )
    assert websocket_url("https://relay.example/").startswith("wss://relay.example/socket.io/")


async def submit(
    session: aiohttp.ClientSession, server: str, world: World, station: str
) -> dict[str, Any]:
    async with session.post(
        f"{server}/v1/print-jobs",
        json={
            "location_id": world.stations[station],
            "station_id": station,
            "document": {"blocks": [{"type": "text", "text": "bench"}]},
        },
        headers=bearer(world.pos_secrets[0]),
    ) as r:
        assert r.status == 201, await r.text()
        job: dict[str, Any] = await r.json()
        return job


async def test_owner_job_claim_report_heartbeat(
    server: str, session: aiohttp.ClientSession, world: World
) -> None:
    station = next(iter(world.stations))
    (device,) = await pair_devices(session, server, world, [(world.stations[station], station)])
    seen = Recorder()
    client = SioClient(session, server, {"token": device.token}, seen)
    try:
        sid = await client.connect()
        assert sid and client.connected
        (owner,) = await seen.wait_for("bridge.owner")
        assert owner["device_id"] == device.id and owner["epoch"] >= 1
        epoch = owner["epoch"]

        job = await submit(session, server, world, station)
        (new,) = await seen.wait_for("print_job.new")
        assert new["id"] == job["id"] and new["status"] == "pending"

        claimed = await client.call("print_job.claim", {"id": job["id"], "epoch": epoch})
        assert claimed["ok"] is True and claimed["job"]["status"] == "sent"
        assert claimed["job"]["claimed_by"] == device.id
        stale = await client.call("print_job.claim", {"id": job["id"], "epoch": epoch + 7})
        assert stale == {
            "ok": False,
            "error": {"code": "stale_epoch", "message": stale["error"]["message"]},
        }
        reported = await client.call(
            "print_job.report", {"id": job["id"], "epoch": epoch, "status": "printed"}
        )
        assert reported["ok"] is True and reported["job"]["status"] == "printed"
        assert await client.call("heartbeat") == {"owner": True, "epoch": epoch}
        # Acks match their calls even when several are in flight at once.
        beats = await asyncio.gather(*(client.call("heartbeat") for _ in range(5)))
        assert beats == [{"owner": True, "epoch": epoch}] * 5
    finally:
        await client.close()
    assert client.closed.is_set() and not client.connected
    with pytest.raises(Disconnected):
        await client.emit("heartbeat")


async def test_refused_with_the_servers_code(server: str, session: aiohttp.ClientSession) -> None:
    client = SioClient(session, server, {"token": "prd_not-a-token"})
    with pytest.raises(ConnectRefused) as refused:
        await client.connect()
    assert refused.value.code == "unauthorized"
    assert client.closed.is_set()


async def test_answers_engineio_pings_so_the_server_keeps_it(
    server: str, session: aiohttp.ClientSession, world: World
) -> None:
    """The server pings every 0.5 s and drops a socket silent for 0.5 s more."""
    station = next(iter(world.stations))
    (device,) = await pair_devices(session, server, world, [(world.stations[station], station)])
    seen = Recorder()
    client = SioClient(session, server, {"token": device.token}, seen)
    try:
        await client.connect()
        epoch = (await seen.wait_for("bridge.owner"))[0]["epoch"]
        await asyncio.sleep(2.2)
        assert client.pings_answered >= 2
        assert client.connected
        assert await client.call("heartbeat") == {"owner": True, "epoch": epoch}
    finally:
        await client.close()


async def test_server_side_disconnect_fails_pending_calls(
    server: str, session: aiohttp.ClientSession, world: World
) -> None:
    station = next(iter(world.stations))
    (device,) = await pair_devices(session, server, world, [(world.stations[station], station)])
    seen = Recorder()
    client = SioClient(session, server, {"token": device.token}, seen)
    await client.connect()
    try:
        await seen.wait_for("bridge.owner")
        async with session.delete(
            f"{server}/v1/devices/{device.id}", headers=bearer(world.manager_secret)
        ) as r:
            assert r.status == 204
        assert (await seen.wait_for("device.unpaired"))[0] == {"device_id": device.id}
        async with asyncio.timeout(WAIT_S):
            await client.closed.wait()
        with pytest.raises(Disconnected):
            await client.call("heartbeat")
    finally:
        await client.close()


async def test_bench_bridges_print_every_job_once_and_verify_says_so(
    server: str, session: aiohttp.ClientSession, world: World, database_file: Path
) -> None:
    devices = await pair_devices(
        session, server, world, [(loc, st) for st, loc in world.stations.items()]
    )
    tracker = Tracker()
    bridges = [BenchBridge(session, server, d, tracker) for d in devices]
    pos = PosClient(server, world.pos_secrets[0], world.stations, tracker)
    backend = Backend("sqlite", database_file.parent, f"sqlite+aiosqlite:///{database_file}")
    try:
        await asyncio.gather(*(b.connect() for b in bridges))
        for b in bridges:
            await asyncio.wait_for(b.is_owner.wait(), WAIT_S)
        stations = list(world.stations)
        ids = await asyncio.gather(*(pos.submit(stations[i % 2]) for i in range(20)))
        assert all(ids) and len(set(ids)) == 20
        assert await tracker.wait_drained(WAIT_S)
        assert sum(tracker.prints.values()) == 20 and set(tracker.prints.values()) == {1}
        result = await verify(backend, tracker, world.tenant_id)
        assert result.ok, result.problems
        assert result.db_status == {"printed": 20} and result.submitted == 20

        # A job no bridge can print (its bridge is gone) is a problem verify reports.
        await bridges[0].close()
        await asyncio.sleep(0.2)
        lost = await pos.submit(stations[0])
        assert lost is not None
        assert not await tracker.wait_drained(0.5)
        result = await verify(backend, tracker, world.tenant_id)
        assert not result.ok and result.missing == 1
        assert result.db_status == {"printed": 20, "pending": 1}
    finally:
        for b in bridges:
            await b.close()
        await pos.close()
