"""POS and manager sockets: subscribe to their own locations, see job and device changes."""

from __future__ import annotations

import asyncio

import pytest

from tests.realtime.clients import WAIT_S, Refused, bridge, watcher
from tests.world import World


async def test_watcher_sees_job_updates_and_device_status_of_its_location_only(
    server: str, rest: World
) -> None:
    tenant = await rest.tenant()
    other = await rest.tenant("Other")
    location, elsewhere = await tenant.location(), await tenant.location("Second")
    foreign = await other.location()
    device = await tenant.device(location)

    w = await watcher(server, tenant.pos_secret).connect()
    spy = await watcher(server, other.manager_secret).connect()
    b = None
    try:
        assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
        denied = await w.call("subscribe", {"location_id": foreign})
        assert denied["ok"] is False and denied["error"]["code"] == "not_found"
        assert (await w.call("subscribe", {"location_id": "x"}))["error"][
            "code"
        ] == "validation_error"
        # Another tenant's manager cannot watch this tenant's location.
        assert (await spy.call("subscribe", {"location_id": location}))["error"][
            "code"
        ] == "not_found"
        assert await spy.call("subscribe", {"location_id": foreign}) == {"ok": True}

        b = await bridge(server, device.token).connect()
        epoch = (await b.wait_for("bridge.owner"))[0]["epoch"]
        (status,) = await w.wait_for("device.status")
        assert status == {"device_id": device.id, "online": True, "station_id": None}

        job = await tenant.job(location)
        await tenant.job(elsewhere)  # not subscribed: never seen
        await b.wait_for("print_job.new")
        assert (await b.call("print_job.claim", {"id": job["id"], "epoch": epoch}))["ok"]
        assert (
            await b.call("print_job.report", {"id": job["id"], "epoch": epoch, "status": "printed"})
        )["ok"]
        updates = await w.wait_for("print_job.updated", 3)
        assert [(u["id"], u["status"]) for u in updates] == [
            (job["id"], "pending"),
            (job["id"], "sent"),
            (job["id"], "printed"),
        ]
        await b.close()
        statuses = await w.wait_for("device.status", 2)
        assert statuses[-1] == {"device_id": device.id, "online": False, "station_id": None}
        assert await spy.quiet("print_job.updated") == []
        assert spy.of("device.status") == []
        # A bridge socket cannot subscribe as a watcher.
        b2 = await bridge(server, device.token).connect()
        try:
            assert (await b2.call("subscribe", {"location_id": location}))["error"][
                "code"
            ] == "forbidden"
        finally:
            await b2.close()
    finally:
        for client in (w, spy, b):
            if client is not None:
                await client.close()


async def test_revoking_a_key_drops_its_watcher_sockets_and_only_theirs(
    server: str, rest: World
) -> None:
    """Issue 19 item 1: a POS socket subscribed before its key is revoked is told, dropped,
    and cannot come back; a socket of another key of the tenant keeps watching."""
    tenant = await rest.tenant()
    location = await tenant.location()
    keys = (await rest.client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
    pos_key = next(k for k in keys if k["role"] == "pos")

    revoked = await watcher(server, tenant.pos_secret).connect()
    kept = await watcher(server, tenant.manager_secret).connect()
    try:
        for w in (revoked, kept):
            assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
        first = await tenant.job(location)
        for w in (revoked, kept):
            assert [u["id"] for u in await w.wait_for("print_job.updated")] == [first["id"]]

        r = await rest.client.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
        assert r.status_code == 204
        assert await revoked.wait_for("api_key.revoked") == [{"key_id": pos_key["id"]}]
        await asyncio.wait_for(revoked.disconnected.wait(), WAIT_S)

        later = await tenant.job(location)
        kept_updates = await kept.wait_for("print_job.updated", 2)
        assert [u["id"] for u in kept_updates] == [first["id"], later["id"]]
        assert [u["id"] for u in revoked.of("print_job.updated")] == [first["id"]]
        assert kept.of("api_key.revoked") == []
        with pytest.raises(Refused) as refused:
            await watcher(server, tenant.pos_secret).connect()
        assert refused.value.data["data"]["code"] == "unauthorized"
    finally:
        for w in (revoked, kept):
            await w.close()
