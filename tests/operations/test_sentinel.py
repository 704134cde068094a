"""A ``redis+sentinel://`` URL against a real Sentinel: a private redis-server and a private
sentinel (``redis-server --sentinel``) on free loopback ports. The coordination client finds
the master through it, and so does python-socketio's manager from the same URL."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import socketio

from app.config import Settings
from app.coordination.redis_client import redis_client
from tests.faults.services import PrivateRedis, private_redis
from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)
SERVICE = "printrelay-test"
START_TIMEOUT_S = 20
# Sentinel sees the master down after 1 s, then elects and promotes: seconds, not tens of them.
FAILOVER_TIMEOUT_S = 30


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


def _wait_until(
    check: Callable[[], bool], what: str, timeout_s: float = FAILOVER_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def _replica_in_sync(replica: PrivateRedis) -> bool:
    import redis

    info = redis.Redis(port=replica.port, socket_timeout=1).info("replication")
    return info.get("master_link_status") == "up"


@pytest.fixture
def failover_pair(tmp_path: Path) -> Iterator[tuple[str, PrivateRedis, PrivateRedis, int]]:
    """A master, its replica and a sentinel that promotes the replica a second after the
    master stops answering; yields (sentinel URL, master, replica, sentinel port)."""
    import redis

    master = PrivateRedis()
    master.start()
    replica = PrivateRedis("--replicaof", "127.0.0.1", str(master.port))
    proc: subprocess.Popen[bytes] | None = None
    try:
        replica.start()
        _wait_until(lambda: _replica_in_sync(replica), "the replica follows the master")
        port = free_port()
        conf = tmp_path / "sentinel-failover.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        proc = subprocess.Popen(
            ["redis-server", str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sentinel = redis.Redis(port=port, socket_timeout=1)

        def knows_the_replica() -> bool:
            try:
                return len(sentinel.sentinel_slaves(SERVICE)) == 1
            except redis.exceptions.ConnectionError:
                return False

        _wait_until(knows_the_replica, "the sentinel knows the replica")
        yield f"redis+sentinel://127.0.0.1:{port}/0/{SERVICE}", master, replica, port
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        replica.kill()
        master.kill()


async def test_a_server_on_a_sentinel_url_survives_a_master_failover(
    failover_pair: tuple[str, PrivateRedis, PrivateRedis, int], tmp_path: Path
) -> None:
    """The master dies; Sentinel promotes the replica; the server follows it without a restart:
    /readyz answers ok again and a bridge that connects afterwards owns its device (the owner
    lock is written to the new master) and is offered a new job (the rooms go through it)."""
    import httpx
    import redis

    from tests.realtime.clients import bridge
    from tests.realtime.conftest import TEST_SERVER_ENV
    from tests.servers import running_server
    from tests.world import World

    sentinel_url, master, replica, sentinel_port = failover_pair
    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": sentinel_url}
    with running_server(f"sqlite:///{tmp_path / 'f.db'}", cwd=tmp_path, extra_env=env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            assert (await client.get("/readyz")).status_code == 200
            tenant = await World(client, app=None).tenant()
            location = await tenant.location()
            before = await tenant.device(location)
            socket = await bridge(url, before.token).connect()
            await socket.wait_for("bridge.owner")
            await socket.close()

            master.kill()
            sentinel = redis.Redis(port=sentinel_port, socket_timeout=1)
            _wait_until(
                lambda: sentinel.sentinel_get_master_addr_by_name(SERVICE)[1] == replica.port,
                "Sentinel promotes the replica",
            )

            async def ready() -> bool:
                answer = await client.get("/readyz")
                return answer.status_code == 200

            deadline = time.monotonic() + FAILOVER_TIMEOUT_S
            while not await ready():
                assert time.monotonic() < deadline, "the server never followed the new master"
                await asyncio.sleep(0.2)

            after = await tenant.device(location)
            socket = await bridge(url, after.token).connect()
            try:
                (owner,) = await socket.wait_for("bridge.owner")
                assert owner["device_id"] == after.id
                promoted = redis.Redis(port=replica.port, socket_timeout=1)
                assert promoted.info("replication")["role"] == "master"
                assert any(after.id in key.decode() for key in promoted.keys("*"))
                job = await tenant.job(location)
                (offered,) = await socket.wait_for("print_job.new")
                assert offered["id"] == job["id"]
            finally:
                await socket.close()
