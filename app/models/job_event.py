from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import utcnow
from app.models.base import Base, str_enum, uuid_pk
from app.models.enums import ActorKind, JobStatus


class JobEvent(Base):
    """One row per status change of a job: the audit trail of who did what, when."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_at", "job_id", "at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    # Not indexed on its own: every row of a tenant shares the key, and that index was a hot
    # spot on the delivery path (migration 0002); history is read by job (ix_job_events_job_at).
    # Neither is a foreign key (migration 0004): a row is written only from its job's own row,
    # in the statement or transaction that changes the job, and nothing deletes jobs or
    # tenants; the checks cost a query and a lock on the tenant's row per history row.
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    from_status: Mapped[JobStatus | None] = mapped_column(str_enum(JobStatus), default=None)
    to_status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus))
    actor_kind: Mapped[ActorKind] = mapped_column(str_enum(ActorKind))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
