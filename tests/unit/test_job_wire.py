"""``job_wire`` builds a job's JSON by hand for speed; it must stay exactly what the API's
model says the job is (``JobOut`` dumped as JSON), for every value a job can hold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.json_codec import JsonObject
from app.models import JobStatus, PrintJob
from app.print_jobs.schemas import JobOut, job_wire

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # what JSON from orjson holds
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0), "GMT"),  # a zero offset that is not the UTC object
        timezone(timedelta(hours=2)),
        timezone(-timedelta(hours=5, minutes=30)),
    ]
)
times = st.builds(
    lambda at, tz: at.replace(tzinfo=tz), st.datetimes(min_value=datetime(1, 1, 2)), zones
)
ids = st.uuids()


@st.composite
def jobs(draw: st.DrawFn) -> PrintJob:
    return PrintJob(
        id=draw(ids),
        tenant_id=draw(ids),
        location_id=draw(ids),
        station_id=draw(st.none() | ids),
        status=draw(st.sampled_from(JobStatus)),
        document=draw(st.none() | st.dictionaries(st.text(), json_values, max_size=5)),
        raw_data=draw(st.none() | st.text()),
        copies=draw(st.integers(1, 10)),
        drawer_pulse=draw(st.booleans()),
        claimed_by=draw(st.none() | ids),
        epoch=draw(st.none() | st.integers(0, 2**62)),
        reprint_of=draw(st.none() | ids),
        error=draw(st.none() | st.text(max_size=200)),
        created_at=draw(times),
        updated_at=draw(times),
        expires_at=draw(times),
        paper_width_mm=draw(st.sampled_from([58, 80])),
    )


@settings(max_examples=300)
@given(jobs())
def test_job_wire_is_job_out_as_json(job: PrintJob) -> None:
    expected: dict[str, Any] = JobOut.of(job).model_dump(mode="json")
    wire = job_wire(job)
    assert wire == expected
    assert type(wire) is JsonObject  # the socket layer skips its walk for bytes
    assert orjson.loads(orjson.dumps(wire)) == expected


def test_job_wire_is_made_again_after_a_change() -> None:
    now = datetime.now(UTC)
    job = PrintJob(
        id=uuid.uuid4(), tenant_id=uuid.uuid4(), location_id=uuid.uuid4(), station_id=None,
        status=JobStatus.PENDING, document={"lines": []}, raw_data=None, copies=1,
        drawer_pulse=False, claimed_by=None, epoch=None, reprint_of=None, error=None,
        created_at=now, updated_at=now, expires_at=now, paper_width_mm=58,
    )  # fmt: skip
    first = job_wire(job)
    assert job_wire(job) is first  # one serialisation per version
    job.status, job.updated_at = JobStatus.SENT, now + timedelta(seconds=1)
    second = job_wire(job)
    assert second["status"] == "sent" and second == JobOut.of(job).model_dump(mode="json")
