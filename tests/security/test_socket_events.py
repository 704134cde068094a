"""Every socket event gets an ack in the contract's shape, whatever a client sends: no
payload, two payloads, an unknown name, or the name of one of the server's own handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realtime.clients import SocketClient, bridge, watcher
from tests.realtime.conftest import TEST_SERVER_ENV
from tests.servers import running_server
from tests.world import World

ANSWER_S = 5.0
# The contract's client → server events, and each one's answer without a payload.
WITHOUT_PAYLOAD = {
    "bridge": {
        "print_job.claim": "validation_error",
        "print_job.report": "validation_error",
        "printer.status": "validation_error",
        "subscribe": "forbidden",
    },
    "watcher": {
        "take_over": "forbidden",
        "heartbeat": "forbidden",
        "print_job.claim": "validation_error",
        "print_job.report": "validation_error",
        "printer.status": "forbidden",
        "subscribe": "validation_error",
    },
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cwd: Path = tmp_path_factory.mktemp("events")
    with running_server(f"sqlite:///{cwd / 'e.db'}", cwd=cwd, extra_env=TEST_SERVER_ENV) as url:
        yield url, cwd


def assert_error(ack: Any, code: str) -> None:
    assert isinstance(ack, dict) and set(ack) == {"ok", "error"}, ack
    assert ack["ok"] is False and set(ack["error"]) == {"code", "message"}, ack
    assert ack["error"]["code"] == code, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], ack


async def _clients(url: str) -> tuple[SocketClient, SocketClient]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        tenant = await World(client, app=None).tenant()
        device = await tenant.device(await tenant.location())
    b = await bridge(url, device.token).connect()
    await b.wait_for("bridge.owner")
    return b, await watcher(url, tenant.pos_secret).connect()


async def test_every_event_without_a_payload_is_answered(served: tuple[str, Path]) -> None:
    url, cwd = served
    b, w = await _clients(url)
    try:
        for kind, client in (("bridge", b), ("watcher", w)):
            for event, code in WITHOUT_PAYLOAD[kind].items():
                assert_error(await client.call(event, timeout_s=ANSWER_S), code)
        assert (await b.call("heartbeat", timeout_s=ANSWER_S))["owner"] is True
        assert set(await b.call("take_over", timeout_s=ANSWER_S)) == {"epoch"}
    finally:
        await b.close()
        await w.close()
    log = "".join(p.read_text() for p in cwd.glob("server-*.log"))
    assert "Traceback" not in log


async def test_odd_events_are_answered_and_change_nothing(served: tuple[str, Path]) -> None:
    url, _ = served
    b, w = await _clients(url)
    try:
        assert_error(await w.call("no.such.event", {"a": 1}, timeout_s=ANSWER_S), "not_found")
        two = await w.call("subscribe", ({"location_id": "x"}, {"b": 2}), timeout_s=ANSWER_S)
        assert_error(two, "validation_error")
        # The server's own handlers are not events a client can send: a "disconnect" would
        # have released the bridge's ownership while its socket stayed connected.
        assert_error(await b.call("disconnect", timeout_s=ANSWER_S), "not_found")
        assert_error(await b.call("connect", ({}, {}), timeout_s=ANSWER_S), "not_found")
        heartbeat = await b.call("heartbeat", timeout_s=ANSWER_S)
        assert heartbeat["owner"] is True, heartbeat
        assert b.sio.connected and w.sio.connected
    finally:
        await b.close()
        await w.close()
