"""Failover (contract: Scope, issue 23): a station whose bridge reports a printer that cannot
print for longer than the station's ``fallback_after_s`` has its jobs offered to, claimed and
printed by the location bridge; once the printer is back, new jobs go to the station again.

Against a real server in both modes (SQLite in memory mode; PostgreSQL with its hot path and
Redis), with real Socket.IO bridges; the sweeper runs every 0.2 s here (default 5 s), so the
failover is offered within fallback_after_s + 0.2 s of the report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.clients import SocketClient, bridge
from tests.realtime.conftest import TEST_SERVER_ENV, Mode
from tests.servers import running_server
from tests.world import World

PRINTER = "tcp://10.0.0.9:9100"


@pytest.fixture(scope="module")
def server(mode: Mode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd: Path = tmp_path_factory.mktemp("server")
    env = {**TEST_SERVER_ENV, **mode.env, "PRINTRELAY_SWEEP_INTERVAL_S": "0.2"}
    with running_server(mode.database_url, cwd=cwd, extra_env=env) as base_url:
        yield base_url


async def _owner_epoch(b: SocketClient) -> int:
    (owner,) = await b.wait_for("bridge.owner")
    epoch: int = owner["epoch"]
    return epoch


async def _print(b: SocketClient, job_id: str, epoch: int) -> dict[str, Any]:
    claimed = await b.call("print_job.claim", {"id": job_id, "epoch": epoch})
    assert claimed["ok"] is True, claimed
    done = await b.call("print_job.report", {"id": job_id, "epoch": epoch, "status": "printed"})
    assert done["ok"] is True, done
    job: dict[str, Any] = done["job"]
    return job


def _new_ids(b: SocketClient) -> list[str]:
    return [j["id"] for j in b.of("print_job.new")]


async def _offered(b: SocketClient, job_id: str) -> None:
    """Wait until ``b`` has been offered the job (``print_job.new``)."""
    count = 1
    while job_id not in _new_ids(b):
        await b.wait_for("print_job.new", count)
        count = len(b.of("print_job.new")) + 1


async def test_paper_out_station_fails_over_to_the_location_bridge_and_back(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    r = await rest.client.post(
        f"/v1/locations/{location}/stations",
        json={"name": "COCINA", "fallback_after_s": 2},
        headers=tenant.manager,
    )
    assert r.status_code == 201 and r.json()["fallback_after_s"] == 2, r.text
    station = r.json()["id"]
    station_device = await tenant.device(location, station)
    location_device = await tenant.device(location)
    # A second station without failover in the same location: its jobs never move.
    never = await tenant.station(location, "BAR")
    await tenant.update_station(never, fallback_after_s=None)
    never_device = await tenant.device(location, never)

    s = await bridge(server, station_device.token).connect()
    loc = await bridge(server, location_device.token).connect()
    n = await bridge(server, never_device.token).connect()
    try:
        s_epoch, l_epoch, n_epoch = [await _owner_epoch(b) for b in (s, loc, n)]
        before = await tenant.job(location, station)
        await _offered(s, before["id"])  # the station bridge is up: the job is its own

        down = {"printer": PRINTER, "state": "paper_out"}
        assert await s.call("printer.status", down) == {"ok": True}
        assert await n.call("printer.status", down) == {"ok": True}
        kept = await tenant.job(location, never)

        # Two seconds later the sweeper offers the station's backlog to the location bridge,
        # which prints it.
        await _offered(loc, before["id"])
        printed = await _print(loc, before["id"], l_epoch)
        assert printed["status"] == "printed" and printed["claimed_by"] == location_device.id

        # A job submitted while failed over goes to the location bridge at once.
        during = await tenant.job(location, station)
        await _offered(loc, during["id"])
        assert (await _print(loc, during["id"], l_epoch))["status"] == "printed"

        # The station without failover (null) kept its job: the location bridge may not take it.
        refused = await loc.call("print_job.claim", {"id": kept["id"], "epoch": l_epoch})
        assert refused["ok"] is False and refused["error"]["code"] == "not_found", refused
        assert kept["id"] not in _new_ids(loc)

        # The printer is back: new jobs go to the station bridge again, not the location's.
        assert await s.call("printer.status", {**down, "state": "online"}) == {"ok": True}
        after = await tenant.job(location, station)
        await _offered(s, after["id"])
        refused = await loc.call("print_job.claim", {"id": after["id"], "epoch": l_epoch})
        assert refused["ok"] is False and refused["error"]["code"] == "not_found", refused
        assert (await _print(s, after["id"], s_epoch))["claimed_by"] == station_device.id
        assert after["id"] not in _new_ids(loc)
        # And the other station's bridge still prints its own job.
        assert (await _print(n, kept["id"], n_epoch))["status"] == "printed"
    finally:
        for b in (s, loc, n):
            await b.close()
