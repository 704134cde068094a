from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update

from app.db import Tx
from app.models import Location, Station


async def add_location(tx: Tx, tenant_id: uuid.UUID, name: str) -> Location:
    location = Location(id=uuid.uuid4(), tenant_id=tenant_id, name=name)
    tx.session.add(location)
    await tx.session.flush()
    return location


async def get_location(tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID) -> Location | None:
    stmt = select(Location).where(Location.id == location_id, Location.tenant_id == tenant_id)
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def list_locations(tx: Tx, tenant_id: uuid.UUID) -> Sequence[Location]:
    stmt = (
        select(Location)
        .where(Location.tenant_id == tenant_id)
        .order_by(Location.created_at, Location.id)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def add_station(
    tx: Tx,
    tenant_id: uuid.UUID,
    location_id: uuid.UUID,
    name: str,
    paper_width_mm: int,
    fallback_after_s: int | None,
) -> Station:
    # An INSERT of its own: the ORM would take a None fallback_after_s for "use the default".
    stmt = (
        insert(Station)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            location_id=location_id,
            name=name,
            paper_width_mm=paper_width_mm,
            fallback_after_s=fallback_after_s,
        )
        .returning(Station)
    )
    return (await tx.session.execute(stmt)).scalar_one()


async def get_station(
    tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID, station_id: uuid.UUID
) -> Station | None:
    stmt = select(Station).where(
        Station.id == station_id,
        Station.tenant_id == tenant_id,
        Station.location_id == location_id,
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def update_station(
    tx: Tx, tenant_id: uuid.UUID, station_id: uuid.UUID, changes: dict[str, Any]
) -> Station | None:
    """One conditional ``UPDATE … RETURNING`` scoped to the tenant: None when the station is not
    the tenant's (nothing is written then)."""
    stmt = (
        update(Station)
        .where(Station.id == station_id, Station.tenant_id == tenant_id)
        .values(**changes)
        .returning(Station)
        .execution_options(populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def list_stations(tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID) -> Sequence[Station]:
    stmt = (
        select(Station)
        .where(Station.tenant_id == tenant_id, Station.location_id == location_id)
        .order_by(Station.created_at, Station.id)
    )
    return (await tx.session.execute(stmt)).scalars().all()
