"""Webhook endpoints, their outbox (one row per event and endpoint) and the delivery log.

Outbox rows are written by database triggers (migrations 0010, 0011) in the statement that
writes a job's history row or changes a device's ``online`` or ``printer_state``: the one
place every path (ORM, hot SQL, batches, sweeper) already goes through, so an event exists
exactly when its change commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import utcnow
from app.models.base import Base, uuid_pk


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant", "tenant_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    location_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), default=None)
    url: Mapped[str] = mapped_column(String(2000))
    on_print_job: Mapped[bool] = mapped_column(Boolean, default=False)
    on_device_status: Mapped[bool] = mapped_column(Boolean, default=False)
    # The signing key, kept recoverable (the server signs with it): ``fernet:<token>``, under
    # PRINTRELAY_ENCRYPTION_KEYS (app/secret_box.py; a row from before migration 0011 may hold
    # it in clear until sealed). Never logged; shown once, in the creation answer.
    secret: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """An event owed to one endpoint: pending until a 2xx (delivered) or 24 h (failed)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid())  # the job or the device
    state: Mapped[str] = mapped_column(String(20))  # the job's new status, online|offline
    previous: Mapped[str | None] = mapped_column(String(20), default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    # device.status: the device's printer state then (null for jobs and for rows from before
    # migration 0011).
    printer_state: Mapped[str | None] = mapped_column(String(20), default=None)
    printer_state_at: Mapped[datetime | None] = mapped_column(default=None)
    occurred_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(Base):
    """One try of one delivery: what the receiver answered (or why it could not)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint_at", "endpoint_id", "at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_type: Mapped[str] = mapped_column(String(30))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
