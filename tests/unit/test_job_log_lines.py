"""The job lines written without a LogRecord (app.observability.logs.write_json_info) are the
lines ServerJsonFormatter makes of the same record, and the shortcut is taken only where the
record would reach that one handler and nothing else."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app.models import JobStatus
from app.observability import logs, telemetry
from app.serving import REDACTED, RedactSecrets

TOKEN = "prd_" + "Z9y8_x7W6-" * 4


def _job(**changes: Any) -> Any:
    values = {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "location_id": uuid.uuid4(),
        "station_id": None,
        "status": JobStatus.FAILED,
        "claimed_by": uuid.uuid4(),
        "epoch": 4,
        "error": f"printer said no; my token is {TOKEN}",
        "created_at": datetime.now(UTC),
    }
    values.update(changes)
    return SimpleNamespace(**values)


@pytest.fixture
def served_json() -> Iterator[io.StringIO]:
    """printrelay.jobs configured as the server does with PRINTRELAY_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logs.BatchedStreamHandler(stream)
    handler.setFormatter(logs.ServerJsonFormatter())
    handler.addFilter(RedactSecrets(["unused-admin-token-" * 2]))
    log = telemetry.jobs_log
    saved = (log.handlers[:], log.propagate, log.level)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        log.handlers[:], log.propagate = saved[0], saved[1]
        log.setLevel(saved[2])


def _alone() -> logs.BatchedStreamHandler:
    """The served handler alone on printrelay.jobs: pytest's own capture attaches a handler to
    every logger that does not propagate, at the start of each test phase."""
    (handler,) = [h for h in telemetry.jobs_log.handlers if type(h) is logs.BatchedStreamHandler]
    telemetry.jobs_log.handlers[:] = [handler]
    return handler


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    for handler in telemetry.jobs_log.handlers:
        handler.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_shortcut_line_is_the_formatters_line(served_json: io.StringIO) -> None:
    job = _job()
    handler = _alone()
    assert logs.json_line_handler(telemetry.jobs_log) is handler

    telemetry.job_changed(job, created=False)  # the shortcut
    telemetry.jobs_log.info(  # the same line through a LogRecord and the formatter
        "job %s: %s",
        "reported",
        "failed",
        extra={
            "event": "job.reported",
            "job_id": job.id,
            "tenant_id": job.tenant_id,
            "location_id": job.location_id,
            "device_id": job.claimed_by,
            "status": "failed",
            "epoch": 4,
            "error": job.error.replace(TOKEN, "prd_" + REDACTED),
        },
    )
    short, formatted = _lines(served_json)
    assert list(short) == list(formatted)  # the same keys in the same order
    assert short.pop("time")[:16] == formatted.pop("time")[:16]
    assert short == formatted
    assert "station_id" not in short  # None is left out, as the formatter does
    assert TOKEN not in served_json.getvalue()
    assert short["error"] == "printer said no; my token is prd_" + REDACTED


def test_iso_time_is_the_formatters_time() -> None:
    from bridge_agent.json_logs import iso_time

    for created in (0.0, 1.9994999, 1.9995001, 1.9999996, 1_764_000_000.123456, 2e9 + 0.5):
        stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert iso_time(created) == stamp.replace("+00:00", "Z")


def test_no_shortcut_past_another_handler(
    served_json: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    _alone()
    telemetry.jobs_log.addHandler(caplog.handler)  # a second handler: a record must be made
    try:
        assert logs.json_line_handler(telemetry.jobs_log) is None
        with caplog.at_level(logging.INFO, logger=telemetry.jobs_log.name):
            telemetry.job_changed(_job(status=JobStatus.PRINTED, error=None), created=False)
    finally:
        telemetry.jobs_log.removeHandler(caplog.handler)
    (record,) = [r for r in caplog.records if r.name == telemetry.jobs_log.name]
    assert record.getMessage() == "job reported: printed"
    assert len(_lines(served_json)) == 1  # the JSON handler got it through the record too


def test_no_shortcut_to_a_text_handler_or_past_a_logger_filter(served_json: io.StringIO) -> None:
    handler = _alone()
    handler.setFormatter(logs.ContextTextFormatter())
    assert logs.json_line_handler(telemetry.jobs_log) is None
    handler.setFormatter(logs.ServerJsonFormatter())
    drop_all = logging.Filter("nothing-matches")
    telemetry.jobs_log.addFilter(drop_all)
    try:
        assert logs.json_line_handler(telemetry.jobs_log) is None
        telemetry.job_changed(_job(), created=True)
    finally:
        telemetry.jobs_log.removeFilter(drop_all)
    assert _lines(served_json) == []  # the filter was obeyed
