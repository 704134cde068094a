"""Fuzzing the pagination cursor's decoder: whatever a client sends as ``cursor``, it is either
exactly what ``encode_cursor`` writes for some position (and decodes to that position) or a
``ValidationFailed`` (422 ``validation_error``), never another exception (a 500). The same
cases through the API on both dialects are in tests/app/test_job_listing.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import ValidationFailed
from app.print_jobs.service import cursor_at, decode_cursor

EXAMPLES = 1_000


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _holds(cursor: str) -> None:
    try:
        created_at, job_id = decode_cursor(cursor)
    except ValidationFailed as exc:
        assert exc.status_code == 422 and exc.code == "validation_error"
        return
    assert created_at.utcoffset() == timedelta(0)
    assert cursor_at(created_at, job_id) == cursor  # only what the API writes is taken


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
# Timestamps of every form fromisoformat reads, at the ends of the datetime range included.
timestamps = st.one_of(
    st.datetimes(timezones=st.none() | offsets).map(datetime.isoformat),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59.999999-14:00",
            "9999-12-31T23:59:59.999999+00:00",
            "2026-01-01T00:00:00Z",
            "2026-01-01",
        ]
    ),
)
job_ids = (
    st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | st.uuids().map(lambda u: u.hex)
)
scalars: Any = json_values | timestamps | job_ids


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_cursor_or_a_422(cursor: str) -> None:
    _holds(cursor)


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values)
def test_any_json_in_base64_is_a_cursor_or_a_422(value: Any) -> None:
    _holds(_b64(json.dumps(value).encode()))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(scalars, min_size=0, max_size=3), st.sampled_from([", ", ","]))
def test_near_cursors_are_a_cursor_or_a_422(parts: list[Any], separator: str) -> None:
    text = "[" + separator.join(json.dumps(p) for p in parts) + "]"
    _holds(_b64(text.encode()))
    # Numbers JSON allows but json.dumps never writes (1e999 reads as infinity).
    _holds(_b64(text.replace("Infinity", "1e999").encode()))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)), st.uuids())
def test_every_cursor_the_api_writes_reads_back(created_at: datetime, job_id: Any) -> None:
    assert decode_cursor(cursor_at(created_at, job_id)) == (created_at, job_id)


def test_the_reported_cursors_are_422() -> None:
    job_id = "9b6c1f7e-2a0b-4c1e-9d1a-7e3f0c2b1a00"
    for raw in (
        b'["0001-01-01T00:00:00+01:00", "' + job_id.encode() + b'"]',  # UTC is before year 1
        b'["2026-01-01T00:00:00+00:00", 42]',  # a non-string job id
        b'["2026-01-01T00:00:00+00:00", 1e999]',
        b'[1e999, "' + job_id.encode() + b'"]',
    ):
        try:
            decode_cursor(_b64(raw))
        except ValidationFailed:
            continue
        raise AssertionError(f"{raw!r} was taken")
