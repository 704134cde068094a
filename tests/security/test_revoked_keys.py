"""A watcher socket whose key was revoked while this process missed the control-bus message
(Redis away): its next subscribe is refused from the database, not trusted from the socket."""

from __future__ import annotations

from app.auth.service import authenticate
from app.coordination.bus import InMemoryBus
from app.realtime.sessions import WatcherSocket
from tests.world import World

SID = "socket-that-missed-its-revocation"


async def test_a_socket_that_missed_its_revocation_cannot_subscribe(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    realtime = world.app.state.realtime
    principal = await authenticate(realtime.db, tenant.pos_secret, admin_token=None)
    realtime.sessions[SID] = WatcherSocket(principal)
    keys = (await world.client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
    pos_key = next(k for k in keys if k["role"] == "pos")
    realtime.publisher.bus = InMemoryBus()  # never started: the revocation reaches nobody here
    try:
        r = await world.client.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
        assert r.status_code == 204
        ack = await realtime.on_subscribe(SID, {"location_id": location})
        assert ack["ok"] is False and ack["error"]["code"] == "unauthorized", ack
        assert ack["error"]["message"]
        assert realtime.sessions[SID].locations == set()
    finally:
        realtime.sessions.pop(SID, None)
