"""/healthz, /readyz and /metrics in process (both dialects), and the settings they read."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.coordination.redis_client import BlockingSentinelPool, redis_client
from app.db import Database
from app.main import create_app
from app.observability.logs import LogFormat, ServerJsonFormatter
from app.observability.readiness import readiness
from app.serving import RedactSecrets
from tests.world import World, assert_error, bearer

METRICS_TOKEN = "metrics-" + "x" * 40


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    for line in text.splitlines():
        match = re.match(pattern, line)
        if match:
            return float(match.group(1))
    return 0.0


async def test_readyz_names_its_checks_and_healthz_stays_liveness(world: World) -> None:
    r = await world.client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok"}}  # no Redis configured
    assert (await world.client.get("/healthz")).json() == {"status": "ok"}


async def test_readiness_says_which_check_failed_without_the_url(tmp_path: object) -> None:
    # A database that cannot open (its directory does not exist) and a Redis that hangs.
    db = Database.from_url("sqlite+aiosqlite:////nonexistent-dir/x.db")

    class HangingRedis:
        async def ping(self) -> None:
            import asyncio

            await asyncio.sleep(30)

    try:
        checks = await readiness(db, HangingRedis(), timeout_s=0.2)
    finally:
        await db.dispose()
    assert checks["redis"] == "timeout"
    assert checks["database"].startswith("error: ")
    assert "nonexistent" not in checks["database"]


async def test_metrics_count_jobs_and_requests_by_route_template(world: World) -> None:
    before = (await world.client.get("/metrics")).text
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    job = await tenant.job(location)
    assert (
        await world.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.pos)
    ).status_code == 200
    assert (await world.claim(device, job["id"])).status_code == 200
    other = await tenant.device(location)
    assert_error(await world.claim(other, job["id"]), 409, "already_claimed")
    assert (await world.report(device, job["id"], "printed")).status_code == 200
    await world.client.get("/no-such-path-a1b2c3")
    assert (await world.client.get("/sdk/printrelay.js")).status_code == 200  # a mount
    assert (await world.client.get("/openapi.json")).status_code == 200  # a Starlette route
    after = (await world.client.get("/metrics")).text

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("printrelay_jobs_submitted_total") == 1
    assert moved("printrelay_jobs_finished_total", status="printed") == 1
    assert moved("printrelay_job_delivery_seconds_count") == 1
    assert moved("printrelay_claims_refused_total", reason="already_claimed") == 1
    route = "/v1/print-jobs/{job_id}"
    assert moved("printrelay_http_requests_total", route=route, status="200") >= 3
    assert moved("printrelay_http_requests_total", route="/v1/print-jobs", status="201") == 1
    assert moved("printrelay_http_requests_total", route="unmatched", status="404") == 1
    assert moved("printrelay_http_requests_total", route="/sdk", status="200") == 1
    assert moved("printrelay_http_requests_total", route="/openapi.json", status="200") == 1
    # Bounded labels only: no job, tenant or device id, no raw path, in any series.
    for ident in (job["id"], tenant.id, device.id, "no-such-path"):
        assert ident not in after


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(update={"metrics_token": METRICS_TOKEN}), run_sweeper=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://printrelay.test") as c:
            yield c


async def test_metrics_token_is_a_bearer_token_when_set(guarded: httpx.AsyncClient) -> None:
    assert_error(await guarded.get("/metrics"), 401, "unauthorized")
    assert_error(await guarded.get("/metrics", headers=bearer("wrong")), 401, "unauthorized")
    assert_error(
        await guarded.get("/metrics", headers=bearer(METRICS_TOKEN + "x")), 401, "unauthorized"
    )
    assert_error(
        await guarded.get("/metrics", headers={"Authorization": METRICS_TOKEN}), 401, "unauthorized"
    )
    r = await guarded.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert r.status_code == 200 and "printrelay_jobs_submitted_total" in r.text
    assert r.headers["content-type"].startswith("text/plain")


# -- settings -----------------------------------------------------------------------------


def test_sentinel_urls_are_accepted_and_reach_the_master_through_sentinel() -> None:
    url = "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/3/printrelay-main"
    assert Settings(redis_url=url).redis_url == url
    client = redis_client(url, max_connections=7, wait_s=2.0)
    pool = client.connection_pool
    assert isinstance(pool, BlockingSentinelPool)
    assert pool.service_name == "printrelay-main"
    assert pool.max_connections == 7 and pool.timeout == 2.0
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "pw"
    hosts = [
        (c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
        for c in pool.sentinel_manager.sentinels
    ]
    assert hosts == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]


@pytest.mark.parametrize(
    "url",
    [
        "http://redis:6379/0",
        "redis+sentinel://10.0.0.1:26379/0",  # no service name
        "redis+sentinel://10.0.0.1/0/main",  # no port
    ],
)
def test_bad_redis_urls_are_refused_with_the_reason(url: str) -> None:
    with pytest.raises(ValidationError, match="PRINTRELAY_REDIS_URL"):
        Settings(redis_url=url)


def test_log_format_and_metrics_token_settings() -> None:
    assert Settings().log_format is LogFormat.TEXT
    assert Settings(log_format="json").log_format is LogFormat.JSON
    assert Settings(log_format="JSON").log_format is LogFormat.JSON
    assert Settings().log_level == "info" and Settings(log_level="WARNING").log_level == "warning"
    assert Settings(metrics_token="").metrics_token is None
    with pytest.raises(ValidationError):
        Settings(log_format="xml")
    with pytest.raises(ValidationError):
        Settings(log_level="loud")


def test_json_lines_carry_time_ids_and_no_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/x?api_key=prk_" + "s" * 30, "1.1", 200),
        None,
    )
    RedactSecrets().filter(record)
    line = ServerJsonFormatter().format(record)
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["status_code"] == 200 and entry["method"] == "GET"
    assert "s" * 30 not in line and "[redacted]" in entry["path"]
    job = logging.LogRecord("printrelay.jobs", logging.INFO, __file__, 1, "job", (), None)
    job.job_id, job.tenant_id = "j-1", "t-1"
    entry = json.loads(ServerJsonFormatter().format(job))
    assert entry["job_id"] == "j-1" and entry["tenant_id"] == "t-1" and "\n" not in line


async def test_each_committed_change_logs_a_line_with_its_ids(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    from app.db import utcnow
    from app.sweeper import Sweeper

    caplog.set_level(logging.INFO, logger="printrelay")
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    canceled = await tenant.job(location)
    left = await tenant.job(location)
    r = await world.client.post(f"/v1/print-jobs/{canceled['id']}/cancel", headers=tenant.pos)
    assert r.status_code == 200
    r = await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    assert r.status_code == 204
    await Sweeper(world.app.state.db, 5.0).run_once(utcnow() + timedelta(days=1))

    def lines(event: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "event", None) == event]

    submitted = {str(r.job_id) for r in lines("job.submitted")}
    assert {canceled["id"], left["id"]} <= submitted
    (cancel_line,) = [r for r in lines("job.canceled") if str(r.job_id) == canceled["id"]]
    assert str(cancel_line.tenant_id) == tenant.id
    (swept,) = [r for r in lines("job.swept") if str(r.job_id) == left["id"]]
    assert swept.status == "expired" and str(swept.tenant_id) == tenant.id
    (unpaired,) = [r for r in lines("device.unpaired") if str(r.device_id) == device.id]
    assert str(unpaired.tenant_id) == tenant.id
    for record in caplog.records:  # ids only: no secret of this tenant in any line
        text = record.getMessage() + " ".join(map(str, record.__dict__.values()))
        for secret in (tenant.manager_secret, tenant.pos_secret, device.token):
            assert secret[:8] not in text


def test_the_served_log_config_applies_the_format_level_and_redaction() -> None:
    from app.serving import log_config

    config = log_config(Settings(log_format="json", log_level="warning", metrics_token="m" * 40))
    assert config["root"] == {"handlers": ["application"], "level": "WARNING"}
    assert config["handlers"]["application"]["class"].endswith("BatchedStreamHandler")
    # Every line is redacted once: by its handler, or (the access log) by its logger.
    assert config["loggers"]["uvicorn.access"]["filters"] == ["redact_secrets"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]
    assert not config["loggers"]["uvicorn.access"]["propagate"]
    for handler in ("default", "access", "application"):
        if handler != "access":
            assert config["handlers"][handler]["filters"] == ["redact_secrets"]
        formatter = config["formatters"][config["handlers"][handler]["formatter"]]
        assert formatter["()"].endswith("ServerJsonFormatter")
    assert "m" * 40 in config["filters"]["redact_secrets"]["secrets"]
    text = log_config(Settings())
    assert text["root"]["level"] == "INFO"
    assert text["formatters"]["application"]["()"].endswith("ContextTextFormatter")


def test_job_lines_are_on_with_json_and_off_with_text_unless_asked() -> None:
    """Three lines per printed job cost the delivery path ~15 us each: a text log (read by a
    person, not parsed) leaves them out unless PRINTRELAY_LOG_JOB_EVENTS says otherwise."""
    from app.serving import log_config

    def jobs_level(**settings: object) -> str | None:
        return (
            log_config(Settings(**settings))
            .get("loggers", {})
            .get("printrelay.jobs", {})
            .get("level")
        )

    assert jobs_level() == "WARNING"
    assert jobs_level(log_format="json") is None  # the root's INFO
    assert jobs_level(log_job_events=True) is None
    assert jobs_level(log_format="json", log_job_events=False) == "WARNING"
