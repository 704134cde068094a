from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.api_common import Db
from app.auth.dependencies import AuthFirstRoute, Manager, PosOrManager
from app.errors import ERROR_RESPONSES
from app.locations import service
from app.locations.schemas import (
    LocationCreate,
    LocationOut,
    StationCreate,
    StationOut,
    StationUpdate,
)
from app.schemas_common import ItemList

router = APIRouter(
    prefix="/v1",
    tags=["locations"],
    responses=ERROR_RESPONSES,
    route_class=AuthFirstRoute,
)


@router.post("/locations", status_code=status.HTTP_201_CREATED, response_model=LocationOut)
async def create_location(body: LocationCreate, principal: Manager, db: Db) -> LocationOut:
    async with db.transaction() as tx:
        location = await service.create_location(tx, principal, body.name)
    return LocationOut.model_validate(location)


@router.get("/locations", response_model=ItemList[LocationOut])
async def list_locations(principal: PosOrManager, db: Db) -> ItemList[LocationOut]:
    async with db.transaction() as tx:
        locations = await service.list_locations(tx, principal)
    return ItemList[LocationOut](items=[LocationOut.model_validate(x) for x in locations])


@router.post(
    "/locations/{location_id}/stations",
    status_code=status.HTTP_201_CREATED,
    response_model=StationOut,
)
async def create_station(
    location_id: uuid.UUID, body: StationCreate, principal: Manager, db: Db
) -> StationOut:
    async with db.transaction() as tx:
        station = await service.create_station(
            tx, principal, location_id, body.name, body.paper_width_mm, body.fallback_after_s
        )
    return StationOut.model_validate(station)


@router.get("/locations/{location_id}/stations", response_model=ItemList[StationOut])
async def list_stations(
    location_id: uuid.UUID, principal: PosOrManager, db: Db
) -> ItemList[StationOut]:
    async with db.transaction() as tx:
        stations = await service.list_stations(tx, principal, location_id)
    return ItemList[StationOut](items=[StationOut.model_validate(x) for x in stations])


@router.patch("/stations/{station_id}", response_model=StationOut)
async def update_station(
    station_id: uuid.UUID, body: StationUpdate, principal: Manager, db: Db
) -> StationOut:
    """Renames a station, changes its paper width or its ``fallback_after_s`` (only the
    fields given). A new width
    applies to jobs submitted afterwards; earlier jobs and their reprints keep theirs."""
    async with db.transaction() as tx:
        station = await service.update_station(tx, principal, station_id, body.changes())
    return StationOut.model_validate(station)
