"""A watcher socket whose key was revoked while its server process could not hear the control
bus (Redis down): the socket is still connected, but its next subscribe is refused from the
database instead of trusted from the socket (issue 19 item 1)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.faults.services import private_redis, require_private_services
from tests.realtime.clients import watcher
from tests.realtime.conftest import TEST_SERVER_ENV
from tests.servers import ServerProcess
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_a_socket_that_missed_its_revocation_cannot_subscribe(
    postgres_url: str, tmp_path: Path
) -> None:
    require_private_services()
    with private_redis() as redis_server:
        env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": redis_server.url}
        server = ServerProcess(postgres_url, cwd=tmp_path, extra_env=env)
        url = server.start()
        w = None
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                world = World(client, app=None)
                tenant = await world.tenant()
                location, other = await tenant.location(), await tenant.location("Second")
                keys = (await client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
                pos_key = next(k for k in keys if k["role"] == "pos")
                w = await watcher(url, tenant.pos_secret).connect()
                assert await w.call("subscribe", {"location_id": location}) == {"ok": True}

                redis_server.kill()  # the revocation's bus message reaches nobody
                r = await client.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
                assert r.status_code == 204
                redis_server.start()

                assert w.sio.connected and w.of("api_key.revoked") == []
                ack = await w.call("subscribe", {"location_id": other})
                assert ack["ok"] is False and ack["error"]["code"] == "unauthorized", ack
                assert ack["error"]["message"]
        finally:
            if w is not None:
                await w.close()
            server.stop()
