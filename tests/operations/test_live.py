"""Readiness, metrics and JSON logs of a real ``printrelay serve`` on loopback, with the real
agent (tests/agents.py) printing to a simulated TCP printer."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.agents import paired_station_bridge, start_agent, stop_agent, wait_status
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.faults.services import private_redis, require_private_services
from tests.operations.test_endpoints import sample
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import ServerProcess
from tests.world import ADMIN_TOKEN, World, bearer

READY_WITHIN_S = 10.0
METRICS_TOKEN = "metrics-token-" + "m" * 32
# How much of a secret may appear in a log: less than its prefix and 4 characters.
SECRET_PROBE_CHARS = 8


async def _ready_status(client: httpx.AsyncClient, want: int) -> tuple[int, dict[str, object]]:
    """Polls /readyz until it answers ``want``; (status, body) of the last answer."""
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        r = await client.get("/readyz")
        if r.status_code == want or time.monotonic() > deadline:
            return r.status_code, r.json()
        await asyncio.sleep(0.2)


@pytest.mark.postgres
@pytest.mark.faults
@pytest.mark.slow
async def test_readyz_follows_redis_down_and_back(postgres_url: str, tmp_path: Path) -> None:
    require_private_services()
    with private_redis() as redis_server:
        env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": redis_server.url}
        server = ServerProcess(postgres_url, cwd=tmp_path, extra_env=env)
        base_url = server.start()
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
                ok = await client.get("/readyz")
                assert ok.status_code == 200
                assert ok.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

                redis_server.kill()
                status, body = await _ready_status(client, 503)
                assert status == 503, body
                assert body["status"] == "unavailable"
                checks = body["checks"]
                assert isinstance(checks, dict)
                assert checks["database"] == "ok" and checks["redis"] != "ok"
                assert "127.0.0.1" not in json.dumps(body)  # no URL in the answer
                assert (await client.get("/healthz")).status_code == 200  # liveness stays

                redis_server.start()
                status, body = await _ready_status(client, 200)
                assert status == 200, body
        finally:
            server.stop()


@pytest.mark.postgres
async def test_a_printed_job_moves_the_metrics_and_its_json_logs_name_it_without_secrets(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {
        **TEST_SERVER_ENV,
        "PRINTRELAY_LOG_FORMAT": "json",
        "PRINTRELAY_METRICS_TOKEN": METRICS_TOKEN,
    }
    server = ServerProcess(
        postgres_url, cwd=tmp_path, extra_env=env, extra_args=("--log-level", "info")
    )
    base_url = server.start()
    agent = None
    state_dir = tmp_path / "agent"
    try:
        async with (
            PrinterSimulator(host="127.0.0.1", port=0) as printer,
            httpx.AsyncClient(base_url=base_url, timeout=15) as client,
        ):
            metrics_auth = bearer(METRICS_TOKEN)
            assert (await client.get("/metrics")).status_code == 401
            before = (await client.get("/metrics", headers=metrics_auth)).text
            world = World(client, app=None)
            tenant, location, station = await paired_station_bridge(world, base_url, state_dir)
            agent = start_agent(state_dir, printer.url, extra_args=("--log-format", "json"))
            for _ in range(150):
                devices = (await client.get("/v1/devices", headers=tenant.manager)).json()
                if devices["items"][0]["online"]:
                    break
                await asyncio.sleep(0.2)
            device_id = devices["items"][0]["id"]
            job = await tenant.job(location, station, headers=tenant.pos)
            await wait_status(world, tenant, job["id"], {"printed"})
            after = (await client.get("/metrics", headers=metrics_auth)).text

            def moved(name: str, **labels: str) -> float:
                return sample(after, name, **labels) - sample(before, name, **labels)

            assert moved("printrelay_jobs_submitted_total") == 1
            assert moved("printrelay_jobs_finished_total", status="printed") == 1
            assert moved("printrelay_job_delivery_seconds_count") == 1
            assert 0 < moved("printrelay_job_delivery_seconds_sum") < 30
            assert sample(after, "printrelay_bridges_connected") == 1
            assert (
                moved("printrelay_http_requests_total", route="/v1/print-jobs", status="201") == 1
            )
    finally:
        if agent is not None:
            stop_agent(agent)
        server.stop()

    lines = server.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all("time" in e and "level" in e and "message" in e for e in entries)
    assert any(e["logger"] == "uvicorn.access" for e in entries)  # uvicorn's lines too
    events = {e["event"]: e for e in entries if "event" in e and e.get("job_id") == job["id"]}
    assert set(events) >= {"job.submitted", "job.claimed", "job.reported"}
    for name in ("job.claimed", "job.reported"):
        assert events[name]["tenant_id"] == tenant.id and events[name]["device_id"] == device_id
    assert events["job.submitted"]["tenant_id"] == tenant.id
    device_events = {e["event"] for e in entries if e.get("device_id") == device_id}
    assert {"device.connected", "device.owner", "device.disconnected"} <= device_events

    agent_entries = [
        json.loads(line) for line in (state_dir / "agent.log").read_text().splitlines()
    ]
    assert all("time" in e and "message" in e for e in agent_entries)
    agent_events = {e["event"] for e in agent_entries if e.get("job_id") == job["id"]}
    assert {"job.claimed", "job.printed", "job.reported"} <= agent_events
    assert any(
        e.get("event") == "device.owner" and e["device_id"] == device_id for e in agent_entries
    )

    (creds,) = state_dir.glob("devices/*/credentials.json")
    token = json.loads(creds.read_text())["token"]
    secrets = [token, tenant.manager_secret, tenant.pos_secret, ADMIN_TOKEN, METRICS_TOKEN]
    agent_log = (state_dir / "agent.log").read_text()
    for text in (server.log_path.read_text(), agent_log):
        for secret in secrets:
            assert secret[:SECRET_PROBE_CHARS] not in text


@pytest.mark.postgres
async def test_metrics_are_summed_over_worker_processes(postgres_url: str, tmp_path: Path) -> None:
    """``--workers 2``: each answer of /metrics counts every worker's jobs, whichever worker
    answers it (prometheus-client's multiprocess mode). The JSON logs' ``pid`` shows that some
    answer came from a worker other than one that took submissions (the kernel chooses which
    worker accepts a connection: one of them may answer every scrape)."""
    databases.require_service("Redis", redis_reachable())
    env = {
        **TEST_SERVER_ENV,
        "PRINTRELAY_REDIS_URL": databases.REDIS_URL,
        "PRINTRELAY_LOG_FORMAT": "json",
    }
    args = ("--workers", "2", "--log-level", "info")
    server = ServerProcess(postgres_url, cwd=tmp_path, extra_env=env, extra_args=args)
    base_url = server.start()
    jobs = 40

    async def fresh(method: str, path: str, **kwargs: object) -> httpx.Response:
        # A connection each, many at once: the kernel hands them to both workers.
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
        body = {"location_id": location, "document": {"blocks": [{"type": "cut"}]}}
        answers = await asyncio.gather(
            *(fresh("POST", "/v1/print-jobs", json=body, headers=tenant.pos) for _ in range(jobs))
        )
        assert [r.status_code for r in answers] == [201] * jobs
        scrapes = await asyncio.gather(*(fresh("GET", "/metrics") for _ in range(20)))
    finally:
        server.stop()
    counted = {sample(r.text, "printrelay_jobs_submitted_total") for r in scrapes}
    assert counted == {jobs}
    entries = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    scraped_by = {e["pid"] for e in entries if e.get("path") == "/metrics"}
    submitted_by = {e["pid"] for e in entries if e.get("event") == "job.submitted"}
    cross = any(scraper != submitter for scraper in scraped_by for submitter in submitted_by)
    assert cross, (scraped_by, submitted_by)


async def test_a_takeover_is_counted_and_logged(sqlite_url: str, tmp_path: Path) -> None:
    """A second socket of one device supersedes the first: owner takeovers +1, bridges
    connected 2 then 0, and the log names both sockets' device."""
    from tests.realtime.clients import bridge

    env = {**TEST_SERVER_ENV, "PRINTRELAY_LOG_FORMAT": "json"}
    server = ServerProcess(sqlite_url, cwd=tmp_path, extra_env=env)
    base_url = server.start()
    sockets = []
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
            before = (await client.get("/metrics")).text
            tenant = await World(client, app=None).tenant()
            location = await tenant.location()
            device = await tenant.device(location)
            first = await bridge(base_url, device.token).connect()
            sockets.append(first)
            await first.wait_for("bridge.owner")
            second = await bridge(base_url, device.token).connect()
            sockets.append(second)
            await second.wait_for("bridge.owner")
            await first.wait_for("superseded")
            during = (await client.get("/metrics")).text
            for s in sockets:
                await s.close()
            sockets.clear()
            for _ in range(50):  # the disconnects are handled after the sockets close
                after = (await client.get("/metrics")).text
                if sample(after, "printrelay_bridges_connected") == 0:
                    break
                await asyncio.sleep(0.1)
    finally:
        for s in sockets:
            await s.close()
        server.stop()
    takeovers = "printrelay_owner_takeovers_total"
    assert sample(during, takeovers) - sample(before, takeovers) == 1
    assert sample(during, "printrelay_bridges_connected") == 2
    assert sample(after, "printrelay_bridges_connected") == 0
    entries = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    mine = [e for e in entries if e.get("device_id") == device.id]
    assert [e["event"] for e in mine].count("device.superseded") == 1
    assert [e["event"] for e in mine].count("device.connected") == 2
    assert all(e["tenant_id"] == tenant.id for e in mine)
