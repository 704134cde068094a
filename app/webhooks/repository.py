"""Webhook SQL: endpoints, the outbox claimed by the sender, the delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from app.db import Tx
from app.models import Device, PrintJob, WebhookAttempt, WebhookDelivery, WebhookEndpoint

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


async def add_endpoint(tx: Tx, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    tx.session.add(endpoint)
    await tx.session.flush()
    return endpoint


async def list_endpoints(tx: Tx, tenant_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def get_endpoint(
    tx: Tx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def delete_endpoint(tx: Tx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    """The endpoint, its owed deliveries and its log."""
    gone = await tx.session.execute(
        delete(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id
        )
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    for table in (WebhookDelivery, WebhookAttempt):
        await tx.session.execute(
            delete(table).where(table.endpoint_id == endpoint_id, table.tenant_id == tenant_id)
        )
    return True


async def all_secrets_for_update(tx: Tx) -> Sequence[tuple[uuid.UUID, str]]:
    """Every endpoint's stored secret, of every tenant, locked until the transaction ends (the
    operator's re-encryption: rewritten by id, so an old secret never travels as a parameter
    that a driver's debug log would print)."""
    stmt = (
        select(WebhookEndpoint.id, WebhookEndpoint.secret)
        .order_by(WebhookEndpoint.id)
        .with_for_update()
    )
    return [(row.id, row.secret) for row in await tx.session.execute(stmt)]


async def set_secret(tx: Tx, endpoint_id: uuid.UUID, stored: str) -> None:
    await tx.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(secret=stored)
        .execution_options(synchronize_session=False)
    )


async def list_attempts(
    tx: Tx, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, limit: int
) -> Sequence[WebhookAttempt]:
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == endpoint_id, WebhookAttempt.tenant_id == tenant_id)
        .order_by(WebhookAttempt.at.desc(), WebhookAttempt.id.desc())
        .limit(limit)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def claim_due(
    tx: Tx, now: datetime, lease_until: datetime, limit: int
) -> Sequence[WebhookDelivery]:
    """Due deliveries, leased to this process until ``lease_until`` (their next try should it
    die mid-send). PostgreSQL: rows another process is claiming are skipped, not waited for;
    the UPDATE's conditions make a claim hold on SQLite too (one writer at a time)."""
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = (await tx.session.execute(due)).scalars().all()
    if not ids:
        return []
    stmt = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(ids),
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=lease_until, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery)
        .execution_options(synchronize_session=False)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def endpoints_by_id(tx: Tx, ids: set[uuid.UUID]) -> dict[uuid.UUID, WebhookEndpoint]:
    rows = await tx.session.execute(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids)))
    return {e.id: e for e in rows.scalars()}


async def subject_places(
    tx: Tx, deliveries: Sequence[WebhookDelivery]
) -> dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]]:
    """(location, station) of each delivery's job or device, read in its own tenant."""
    places: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]] = {}
    for model in (PrintJob, Device):
        pairs = {(d.tenant_id, d.subject_id) for d in deliveries}
        if not pairs:
            continue
        stmt: Any = select(model.id, model.tenant_id, model.location_id, model.station_id).where(
            model.id.in_([s for _, s in pairs])
        )
        for row in (await tx.session.execute(stmt)).all():
            if (row.tenant_id, row.id) in pairs:
                places[row.id] = (row.location_id, row.station_id)
    return places


async def record_attempt(
    tx: Tx,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str | None,
    at: datetime,
    status: str,
    next_attempt_at: datetime,
) -> None:
    tx.session.add(
        WebhookAttempt(
            id=uuid.uuid4(),
            tenant_id=delivery.tenant_id,
            endpoint_id=delivery.endpoint_id,
            delivery_id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            attempt=delivery.attempts,
            status_code=status_code,
            error=error,
            at=at,
        )
    )
    await tx.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == PENDING)
        .values(
            status=status,
            next_attempt_at=next_attempt_at,
            finished_at=at if status != PENDING else None,
        )
        .execution_options(synchronize_session=False)
    )
