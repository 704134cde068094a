from __future__ import annotations

import base64
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import ConfigDict, Field, model_validator

from app.json_codec import JsonObject
from app.models import JobStatus
from app.print_jobs.document import BASE64_PATTERN, Document, base64_length, decode_base64
from app.print_jobs.records import JobView
from app.schemas_common import Epoch, Input, Output

MAX_RAW_BYTES = 700 * 1024  # base64 of this still fits the 1 MiB body cap
MAX_COPIES = 10
MAX_EXPIRES_IN_S = 86_400


class RawPayload(Input):
    encoding: Literal["base64"]
    data: str = Field(
        min_length=1,
        max_length=base64_length(MAX_RAW_BYTES),
        json_schema_extra={"pattern": BASE64_PATTERN},
    )

    @model_validator(mode="after")
    def _canonical(self) -> RawPayload:
        self.data = base64.b64encode(decode_base64(self.data, max_bytes=MAX_RAW_BYTES)).decode()
        return self


class JobCreate(Input):
    # The schema says what the validator below enforces: exactly one of the two is an object.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["document"], "properties": {"document": {"type": "object"}}},
                {"required": ["raw"], "properties": {"raw": {"type": "object"}}},
            ]
        },
    )

    location_id: uuid.UUID
    station_id: uuid.UUID | None = None
    document: Document | None = None
    raw: RawPayload | None = None
    copies: int = Field(default=1, ge=1, le=MAX_COPIES)
    drawer_pulse: bool = False
    expires_in_s: int = Field(default=900, ge=1, le=MAX_EXPIRES_IN_S)

    @model_validator(mode="after")
    def _exactly_one_payload(self) -> JobCreate:
        if (self.document is None) == (self.raw is None):
            raise ValueError("exactly one of 'document' and 'raw' is required")
        return self


class JobUpdate(Input):
    """A device's claim (``sent``) or report (``printed`` / ``failed``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # What the validator below enforces: an error only with status "failed".
            "anyOf": [
                {"properties": {"status": {"const": "failed"}}},
                {"properties": {"error": {"type": "null"}}},
            ]
        },
    )

    status: Literal[JobStatus.SENT, JobStatus.PRINTED, JobStatus.FAILED]
    epoch: Epoch
    error: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _error_only_on_failure(self) -> JobUpdate:
        check_error_on_failure(self.status, self.error)
        return self


def check_error_on_failure(status: JobStatus, error: str | None) -> None:
    """A report's rule, for ``JobUpdate`` and the socket's ``ReportMessage`` alike."""
    if error is not None and status is not JobStatus.FAILED:
        raise ValueError("'error' is only allowed with status 'failed'")


class RawOut(Output):
    encoding: Literal["base64"] = "base64"
    data: str


_WIRE_CACHE = "_printrelay_wire"


def _wire_time(at: datetime) -> str:
    """A datetime as pydantic writes it in JSON: ISO 8601, a zero UTC offset as ``Z``. orjson
    writes that format three times as fast as ``isoformat`` and a suffix test (nine times per
    printed job; tests/unit/test_job_wire.py holds it to pydantic's for every zone)."""
    return orjson.dumps(at, option=orjson.OPT_UTC_Z)[1:-1].decode()


def _wire_id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def job_wire(job: JobView) -> dict[str, Any]:
    """The job as the socket events, the acks and a submission's answer carry it: exactly
    ``JobOut.of(job).model_dump(mode="json")`` (tests/unit/test_job_wire.py holds the two
    equal), built directly because it is made for every status change of every job and
    validating and dumping a model cost more than the rest of the work on it. The document is
    shared, not copied: it is JSON already (stored as ``Document.model_dump(mode="json")``)
    and nothing changes a wire dict once made.

    A status change serialises its job once for the watchers' event and the bridge's ack;
    the memo is keyed by the row's version (status and update time), so a changed row is
    serialised again."""
    version = (job.status, job.updated_at)
    memo = job.__dict__.get(_WIRE_CACHE)
    if memo is not None and memo[0] == version:
        wire: dict[str, Any] = memo[1]
        return wire
    raw = job.raw_data
    wire = JsonObject(  # JSON already: the document was stored as JSON
        {
            "id": str(job.id),
            "location_id": str(job.location_id),
            "station_id": _wire_id(job.station_id),
            "status": job.status.value,
            "document": job.document,
            "raw": None if raw is None else {"encoding": "base64", "data": raw},
            "copies": job.copies,
            "drawer_pulse": job.drawer_pulse,
            "claimed_by": _wire_id(job.claimed_by),
            "epoch": job.epoch,
            "reprint_of": _wire_id(job.reprint_of),
            "error": job.error,
            "created_at": _wire_time(job.created_at),
            "updated_at": _wire_time(job.updated_at),
            "expires_at": _wire_time(job.expires_at),
            "paper_width_mm": job.paper_width_mm,
        }
    )
    job.__dict__[_WIRE_CACHE] = (version, wire)
    return wire


class JobOut(Output):
    id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    status: JobStatus
    document: dict[str, Any] | None
    raw: RawOut | None
    copies: int
    drawer_pulse: bool
    claimed_by: uuid.UUID | None
    epoch: int | None
    reprint_of: uuid.UUID | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    paper_width_mm: int = Field(
        description="The paper the job is rendered for, in mm: its station's width when it was"
        " submitted (a later change of the station leaves the job as it was), 80 for a job"
        " without a station. Bridges render at it.",
        json_schema_extra={"enum": [58, 80]},
    )

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        return cls(
            id=job.id,
            location_id=job.location_id,
            station_id=job.station_id,
            status=job.status,
            document=job.document,
            raw=RawOut(data=job.raw_data) if job.raw_data is not None else None,
            copies=job.copies,
            drawer_pulse=job.drawer_pulse,
            claimed_by=job.claimed_by,
            epoch=job.epoch,
            reprint_of=job.reprint_of,
            error=job.error,
            created_at=job.created_at,
            updated_at=job.updated_at,
            expires_at=job.expires_at,
            paper_width_mm=job.paper_width_mm,
        )


class JobOrder(StrEnum):
    """``GET /v1/print-jobs?order=``: by creation time (then id). ``asc``, the default, is the
    order a bridge works a backlog in; ``desc`` gives a console the newest jobs first."""

    ASC = "asc"
    DESC = "desc"


class JobPage(Output):
    items: list[JobOut]
    next_cursor: str | None
