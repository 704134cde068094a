from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from app.auth.principals import Principal
from app.db import Tx
from app.devices import repository as devices_repository
from app.errors import NotFound
from app.locations import repository
from app.models import Location, Station


async def create_location(tx: Tx, principal: Principal, name: str) -> Location:
    return await repository.add_location(tx, principal.tenant, name)


async def list_locations(tx: Tx, principal: Principal) -> Sequence[Location]:
    return await repository.list_locations(tx, principal.tenant)


async def require_location(tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID) -> Location:
    location = await repository.get_location(tx, tenant_id, location_id)
    if location is None:
        raise NotFound("Location not found.")
    return location


async def require_station(
    tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID, station_id: uuid.UUID
) -> Station:
    station = await repository.get_station(tx, tenant_id, location_id, station_id)
    if station is None:
        raise NotFound("Station not found in this location.")
    return station


async def create_station(
    tx: Tx,
    principal: Principal,
    location_id: uuid.UUID,
    name: str,
    paper_width_mm: int,
    fallback_after_s: int | None,
) -> Station:
    await require_location(tx, principal.tenant, location_id)
    return await repository.add_station(
        tx, principal.tenant, location_id, name, paper_width_mm, fallback_after_s
    )


async def list_stations(tx: Tx, principal: Principal, location_id: uuid.UUID) -> Sequence[Station]:
    await require_location(tx, principal.tenant, location_id)
    return await repository.list_stations(tx, principal.tenant, location_id)


async def update_station(
    tx: Tx, principal: Principal, station_id: uuid.UUID, changes: dict[str, Any]
) -> Station:
    """A new name or paper width. Submissions read the width in their own statement
    (``print_jobs.repository.submit_target``, ``print_jobs.hot_sql``), and no process keeps
    station rows, so every process's next submission sees the change once it commits; jobs
    submitted before keep the width they carry. A new ``fallback_after_s`` moves the failover
    moment of the station's bridges whose printer cannot print (from their last report)."""
    station = await repository.update_station(tx, principal.tenant, station_id, changes)
    if station is None:
        raise NotFound("Station not found.")
    if "fallback_after_s" in changes:
        await devices_repository.reschedule_fallback(
            tx, principal.tenant, station.id, station.fallback_after_s
        )
    return station
