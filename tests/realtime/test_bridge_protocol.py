"""The bridge side of the Socket.IO contract, against a real server in both modes."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.realtime.clients import Refused, bridge, watcher
from tests.world import World, assert_error


async def test_owner_gets_an_epoch_then_the_backlog_oldest_first(server: str, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    jobs = [await tenant.job(location) for _ in range(3)]

    b = await bridge(server, device.token).connect()
    try:
        (owner,) = await b.wait_for("bridge.owner")
        assert owner["device_id"] == device.id and owner["epoch"] >= 1
        backlog = await b.wait_for("print_job.new", 3)
        assert [j["id"] for j in backlog] == [j["id"] for j in jobs]
        me = await rest.client.get("/v1/devices/me", headers=device.headers)
        assert me.json()["online"] is True
        # Events arrive in protocol order: the owner notice before any job.
        assert b.received[0][0] == "bridge.owner"
    finally:
        await b.close()


async def test_supersede_and_take_over_move_jobs_and_fence_epochs(server: str, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    first = await bridge(server, device.token).connect()
    second = None
    try:
        (e1,) = [o["epoch"] for o in await first.wait_for("bridge.owner")]
        second = await bridge(server, device.token).connect()
        (e2,) = [o["epoch"] for o in await second.wait_for("bridge.owner")]
        assert e2 > e1
        assert (await first.wait_for("superseded"))[0] == {"device_id": device.id}

        job = await tenant.job(location)
        assert [j["id"] for j in await second.wait_for("print_job.new")] == [job["id"]]
        assert await first.quiet("print_job.new") == []  # a superseded socket gets no jobs
        refused = await first.call("print_job.claim", {"id": job["id"], "epoch": e1})
        assert refused["ok"] is False and refused["error"]["code"] == "stale_epoch"

        took = await first.call("take_over")
        e3 = took["epoch"]
        assert e3 > e2
        await second.wait_for("superseded")
        stale = await second.call("print_job.claim", {"id": job["id"], "epoch": e2})
        assert stale["error"]["code"] == "stale_epoch"
        won = await first.call("print_job.claim", {"id": job["id"], "epoch": e3})
        assert won["ok"] is True and won["job"]["status"] == "sent"
        assert won["job"]["claimed_by"] == device.id and won["job"]["epoch"] == e3
        beat = await second.call("heartbeat")
        assert beat == {"owner": False, "epoch": e2}
        beat = await first.call("heartbeat")
        assert beat == {"owner": True, "epoch": e3}
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_claim_and_report_over_the_socket(server: str, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    one, two = await tenant.device(location), await tenant.device(location)
    b1 = await bridge(server, one.token).connect()
    b2 = await bridge(server, two.token).connect()
    try:
        e1 = (await b1.wait_for("bridge.owner"))[0]["epoch"]
        e2 = (await b2.wait_for("bridge.owner"))[0]["epoch"]
        job = await tenant.job(location)
        await b1.wait_for("print_job.new")
        await b2.wait_for("print_job.new")  # both location bridges are offered it

        won = await b1.call("print_job.claim", {"id": job["id"], "epoch": e1})
        lost = await b2.call("print_job.claim", {"id": job["id"], "epoch": e2})
        again = await b1.call("print_job.claim", {"id": job["id"], "epoch": e1})
        assert won["ok"] and won["job"]["status"] == "sent"
        assert lost == {
            "ok": False,
            "error": {"code": "already_claimed", "message": lost["error"]["message"]},
        }
        assert again["ok"] and again["job"]["claimed_by"] == one.id

        bad = await b1.call("print_job.report", {"id": job["id"], "epoch": e1, "status": "sent"})
        assert bad["error"]["code"] == "validation_error"
        printed_with_error = await b1.call(
            "print_job.report",
            {"id": job["id"], "epoch": e1, "status": "printed", "error": "paper_out"},
        )
        assert printed_with_error["error"]["code"] == "validation_error"
        assert "only allowed with status 'failed'" in printed_with_error["error"]["message"]
        huge_epoch = await b1.call("print_job.claim", {"id": job["id"], "epoch": 2**63})
        assert huge_epoch["error"]["code"] == "validation_error"
        done = await b1.call(
            "print_job.report",
            {"id": job["id"], "epoch": e1, "status": "failed", "error": "paper_out"},
        )
        assert (
            done["ok"] and done["job"]["status"] == "failed" and done["job"]["error"] == "paper_out"
        )
        r = await rest.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.pos)
        assert r.json()["status"] == "failed"
        junk = await b1.call("print_job.claim", {"id": "not-a-uuid", "epoch": e1})
        assert junk["error"]["code"] == "validation_error"
        status = await b1.call(
            "printer.status", {"printer": "tcp://10.0.0.9:9100", "state": "paper_out"}
        )
        assert status == {"ok": True}
        wrong = await b1.call("printer.status", {"printer": "p", "state": "on_fire"})
        assert wrong["error"]["code"] == "validation_error"
    finally:
        await b1.close()
        await b2.close()


async def test_station_jobs_go_to_the_station_bridge_else_to_location_bridges(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    loc_device = await tenant.device(location)
    st_device = await tenant.device(location, station)
    loc = await bridge(server, loc_device.token).connect()
    st = None
    try:
        await loc.wait_for("bridge.owner")
        early = await tenant.job(location, station)  # no station bridge online: location's
        assert [j["id"] for j in await loc.wait_for("print_job.new")] == [early["id"]]

        st = await bridge(server, st_device.token).connect()
        await st.wait_for("bridge.owner")
        assert [j["id"] for j in await st.wait_for("print_job.new")] == [early["id"]]  # backlog
        station_job = await tenant.job(location, station)
        location_job = await tenant.job(location)
        st_ids = [j["id"] for j in await st.wait_for("print_job.new", 2)]
        loc_ids = [j["id"] for j in await loc.wait_for("print_job.new", 2)]
        assert st_ids == [early["id"], station_job["id"]]
        assert loc_ids == [early["id"], location_job["id"]]
        # While the station bridge is online, the location bridge may not claim its jobs.
        loc_epoch = loc.of("bridge.owner")[0]["epoch"]
        out = await loc.call("print_job.claim", {"id": station_job["id"], "epoch": loc_epoch})
        assert out["error"]["code"] == "not_found"

        await st.close()
        # The station lost its bridge: its pending jobs are offered to the location bridges.
        offered = [j["id"] for j in await loc.wait_for("print_job.new", 4)]
        assert set(offered[2:]) == {early["id"], station_job["id"]}
        ok = await loc.call("print_job.claim", {"id": station_job["id"], "epoch": loc_epoch})
        assert ok["ok"] is True
    finally:
        await loc.close()
        if st is not None:
            await st.close()


async def test_unpair_disconnects_the_socket_and_the_token_is_revoked(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    b = await bridge(server, device.token).connect()
    try:
        await b.wait_for("bridge.owner")
        r = await rest.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
        assert r.status_code == 204
        assert (await b.wait_for("device.unpaired"))[0] == {"device_id": device.id}
        await asyncio.wait_for(b.disconnected.wait(), 10)
    finally:
        await b.close()
    with pytest.raises(Refused) as refused:
        await bridge(server, device.token).connect()
    assert refused.value.data["data"]["code"] == "revoked"
    assert_error(
        await rest.client.get("/v1/devices/me", headers=device.headers), 401, "unauthorized"
    )


@pytest.mark.parametrize("auth", [{"token": "prd_not-a-real-token"}, {}, {"api_key": "prk_nope"}])
async def test_bad_credentials_are_refused_unauthorized(server: str, auth: dict[str, str]) -> None:
    from tests.realtime.clients import SocketClient

    with pytest.raises(Refused) as refused:
        await SocketClient(server, auth).connect()
    assert refused.value.data["message"] == "unauthorized"
    assert refused.value.data["data"]["code"] == "unauthorized"


async def test_a_heartbeat_right_after_connect_does_not_take_ownership_twice(
    server: str, rest: World
) -> None:
    """The first ownership is settled in the background after `connect`; a heartbeat sent at
    once used to find no holder and take ownership again, handing the socket a second epoch
    while jobs were already being claimed at the first (the benchmark caught stale_epoch)."""
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    for _ in range(5):
        b = await bridge(server, device.token).connect()
        try:
            ack = await b.call("heartbeat")
            owners = await b.quiet("bridge.owner")
            assert len(owners) == 1, owners
            assert ack == {"owner": True, "epoch": owners[0]["epoch"]}
        finally:
            await b.close()


async def test_a_heartbeat_marks_the_device_heard_from(server: str, rest: World) -> None:
    """Heartbeats are written to last_seen_at in batches (one UPDATE a second for all of them);
    the sweeper's silence threshold (60 s) relies on that write happening."""
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)

    async def last_seen() -> datetime:
        r = await rest.client.get(
            "/v1/devices/me", headers={"Authorization": f"Bearer {device.token}"}
        )
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["last_seen_at"])

    b = await bridge(server, device.token).connect()
    try:
        await b.wait_for("bridge.owner")
        before = await last_seen()  # set when it became owner
        await asyncio.sleep(0.05)
        assert (await b.call("heartbeat"))["owner"] is True
        for _ in range(60):  # the batch is written within about a second
            if await last_seen() > before:
                break
            await asyncio.sleep(0.1)
        assert await last_seen() > before
    finally:
        await b.close()


async def test_printer_status_is_stored_on_the_device_and_relayed(server: str, rest: World) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    other = await rest.tenant("Other")
    other_location = await other.location()
    me = (await rest.client.get("/v1/devices/me", headers=device.headers)).json()
    assert me["printer_state"] == "unknown" and me["printer_state_at"] is None

    b = await bridge(server, device.token).connect()
    w = await watcher(server, tenant.manager_secret).connect()
    w_other = await watcher(server, other.manager_secret).connect()
    try:
        await b.wait_for("bridge.owner")
        assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
        assert await w_other.call("subscribe", {"location_id": other_location}) == {"ok": True}
        status = {"printer": "tcp://10.0.0.9:9100", "state": "paper_out"}
        assert await b.call("printer.status", status) == {"ok": True}
        (relayed,) = await w.wait_for("printer.status")
        assert relayed == {"device_id": device.id, **status}
        assert await w_other.quiet("printer.status") == []
        unknown = await b.call("printer.status", {"printer": "p", "state": "unknown"})
        assert unknown["error"]["code"] == "validation_error"

        me = (await rest.client.get("/v1/devices/me", headers=device.headers)).json()
        assert me["printer_state"] == "paper_out"
        at = datetime.fromisoformat(me["printer_state_at"].replace("Z", "+00:00"))
        listed = await rest.client.get(
            "/v1/devices", params={"location_id": location}, headers=tenant.manager
        )
        (row,) = listed.json()["items"]
        assert row["printer_state"] == "paper_out"
        assert datetime.fromisoformat(row["printer_state_at"].replace("Z", "+00:00")) == at
        # A refused report (unknown) changed nothing; a new one moves state and time.
        assert await b.call("printer.status", {**status, "state": "online"}) == {"ok": True}
        me = (await rest.client.get("/v1/devices/me", headers=device.headers)).json()
        assert me["printer_state"] == "online"
        assert datetime.fromisoformat(me["printer_state_at"].replace("Z", "+00:00")) >= at
    finally:
        await b.close()
        await w.close()
        await w_other.close()
