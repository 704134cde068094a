"""A ``redis+sentinel://`` URL against a real Sentinel: a private redis-server and a private
sentinel (``redis-server --sentinel``) on free loopback ports. The coordination client finds
the master through it, and so does python-socketio's manager from the same URL."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from app.config import Settings
from app.coordination.redis_client import redis_client
from tests.faults.services import private_redis
from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)
SERVICE = "printrelay-test"
START_TIMEOUT_S = 20


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[str]:
    with private_redis() as master:
        port = free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\nsentinel monitor {SERVICE} 127.0.0.1 {master.port} 1\n"
        )
        proc = subprocess.Popen(
            ["redis-server", str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            import redis

            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    if redis.Redis(port=port, socket_timeout=1).ping():
                        break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"redis+sentinel://127.0.0.1:{port}/0/{SERVICE}"
        finally:
            proc.kill()
            proc.wait()


async def test_the_coordination_client_and_the_socket_manager_reach_the_master(
    sentinel_url: str,
) -> None:
    settings = Settings(redis_url=sentinel_url)
    assert settings.redis_url is not None
    client = redis_client(settings.redis_url, max_connections=4, wait_s=2.0)
    try:
        assert await client.ping()
        await client.set("printrelay:test:sentinel", "through sentinel", ex=30)
        manager = socketio.AsyncRedisManager(settings.redis_url, write_only=True)
        manager._redis_connect()  # what it does on its first publish: Sentinel, then the master
        try:
            assert await manager.redis.get("printrelay:test:sentinel") == b"through sentinel"
        finally:
            await manager.redis.aclose()
    finally:
        await client.aclose()


async def test_a_server_on_a_sentinel_url_is_ready_and_hands_out_ownership(
    sentinel_url: str, tmp_path: Path
) -> None:
    import httpx

    from tests.realtime.clients import bridge
    from tests.realtime.conftest import TEST_SERVER_ENV
    from tests.servers import running_server
    from tests.world import World

    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": sentinel_url}
    with running_server(f"sqlite:///{tmp_path / 's.db'}", cwd=tmp_path, extra_env=env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            ready = await client.get("/readyz")
            assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
            tenant = await World(client, app=None).tenant()
            location = await tenant.location()
            device = await tenant.device(location)
            socket = await bridge(url, device.token).connect()
            try:
                (owner,) = await socket.wait_for("bridge.owner")  # the owner lock: in Redis
                assert owner["device_id"] == device.id
                job = await tenant.job(location)
                (offered,) = await socket.wait_for("print_job.new")
                assert offered["id"] == job["id"]
            finally:
                await socket.close()
