from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import PortableJSON, utcnow
from app.models.base import Base, str_enum, uuid_pk
from app.models.enums import JobStatus

# The paper of a job without a station (a location job), and of jobs stored before jobs had
# a width (migration 0006). 80 mm is the contract's default station width too.
LOCATION_JOB_PAPER_WIDTH_MM = 80


class PrintJob(Base):
    __tablename__ = "print_jobs"
    __table_args__ = (
        # One job per tenant and Idempotency-Key. Partial: most jobs carry no key, and with an
        # entry (tenant, NULL) for each of them the index was one that any statement naming a
        # tenant's job could be planned to scan, every job of the tenant (migration 0002).
        Index(
            "uq_print_jobs_tenant_idempotency",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        # Listing and backlog: a location's jobs by status, oldest first.
        Index("ix_print_jobs_scope", "tenant_id", "location_id", "status", "created_at"),
        # The sweeper's two scans: pending jobs by expiry, sent jobs by lease. Partial, so they
        # hold the jobs in flight, not the history, and a status change out of pending or
        # sent adds no entry (migration 0003).
        Index(
            "ix_print_jobs_pending_expires",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_print_jobs_sent_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'sent'"),
            sqlite_where=text("status = 'sent'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.PENDING)
    document: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    raw_data: Mapped[str | None] = mapped_column(Text, default=None)  # base64, canonical
    copies: Mapped[int] = mapped_column(SmallInteger, default=1)
    drawer_pulse: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"), default=None)
    epoch: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reprint_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("print_jobs.id"), default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # SHA-256 of the canonical request, to tell a retry from a conflicting reuse of a key.
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The station's width when the job was submitted (a later change of the station leaves
    # the job as it was); bridges render at it. The server default serves rows written
    # without it: a location job, or SQL that predates the column.
    paper_width_mm: Mapped[int] = mapped_column(
        SmallInteger,
        default=LOCATION_JOB_PAPER_WIDTH_MM,
        server_default=text(str(LOCATION_JOB_PAPER_WIDTH_MM)),
    )
