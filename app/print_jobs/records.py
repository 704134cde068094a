"""A job as the delivery path carries it, without the ORM.

The hot path (``hot_path``) writes and reads jobs with plain SQL, so its jobs need no ORM
identity, change tracking or session. Building a mapped ``PrintJob`` for each of them cost
about 5% of the server process's CPU in the closed-loop bench (SQLAlchemy's instrumented
constructor and attribute access, three times per printed job). ``JobRecord`` is a plain
dataclass with the same columns; ``JobView`` is what readers of a job (``job_wire``,
``JobOut.of``, the publisher, ``JobChanged``) ask for, and both a ``PrintJob`` and a
``JobRecord`` are one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.models import LOCATION_JOB_PAPER_WIDTH_MM, JobStatus


class JobView(Protocol):
    """The columns of a job, read-only: a mapped ``PrintJob`` or a ``JobRecord``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def location_id(self) -> uuid.UUID: ...
    @property
    def station_id(self) -> uuid.UUID | None: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def document(self) -> dict[str, Any] | None: ...
    @property
    def raw_data(self) -> str | None: ...
    @property
    def copies(self) -> int: ...
    @property
    def drawer_pulse(self) -> bool: ...
    @property
    def claimed_by(self) -> uuid.UUID | None: ...
    @property
    def epoch(self) -> int | None: ...
    @property
    def reprint_of(self) -> uuid.UUID | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def idempotency_key(self) -> str | None: ...
    @property
    def request_hash(self) -> bytes | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def lease_expires_at(self) -> datetime | None: ...
    @property
    def paper_width_mm(self) -> int: ...


@dataclass(eq=False)
class JobRecord:
    """A job row read or written by plain SQL (every column of ``print_jobs``)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    status: JobStatus
    document: dict[str, Any] | None
    raw_data: str | None
    copies: int
    drawer_pulse: bool
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    claimed_by: uuid.UUID | None = None
    epoch: int | None = None
    reprint_of: uuid.UUID | None = None
    error: str | None = None
    idempotency_key: str | None = None
    request_hash: bytes | None = None
    lease_expires_at: datetime | None = None
    # A submission on the hot path learns its station's width from its own statement and
    # sets it then (``hot_path.submit``); every row read back carries it.
    paper_width_mm: int = LOCATION_JOB_PAPER_WIDTH_MM
