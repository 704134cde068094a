from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api_common import AppSettings, Db
from app.auth.dependencies import AuthFirstRoute, DeviceOnly, Manager
from app.coordination.rate_limit import retry_after_seconds
from app.devices import service
from app.devices.schemas import (
    DeviceListInclude,
    DeviceOut,
    PairingCodeCreate,
    PairingCodeOut,
    PairRequest,
    PairResponse,
)
from app.errors import ERROR_RESPONSES, ErrorBody, RateLimited
from app.schemas_common import ItemList

router = APIRouter(
    prefix="/v1", tags=["devices"], responses=ERROR_RESPONSES, route_class=AuthFirstRoute
)


@router.post("/pairing-codes", status_code=status.HTTP_201_CREATED, response_model=PairingCodeOut)
async def create_pairing_code(
    body: PairingCodeCreate, principal: Manager, db: Db, settings: AppSettings
) -> PairingCodeOut:
    async with db.transaction() as tx:
        code, row = await service.create_pairing_code(
            tx, principal, body.location_id, body.station_id, body.kind, settings.pairing_code_ttl_s
        )
    return PairingCodeOut(code=code, expires_at=row.expires_at)


@router.post(
    "/devices/pair",
    status_code=status.HTTP_201_CREATED,
    response_model=PairResponse,
    responses={400: {"model": ErrorBody, "description": "invalid_pairing_code"}},
)
async def pair_device(body: PairRequest, request: Request, db: Db) -> PairResponse:
    # Every attempt counts, right or wrong: this is what bounds guessing.
    client = request.client.host if request.client else "unknown"
    limiters = request.app.state.limiters
    for limiter, key in ((limiters["pair_address"], client), (limiters["pair_global"], "all")):
        wait_s = await limiter.hit(key)
        if wait_s is not None:
            raise RateLimited(
                retry_after_seconds(wait_s), "Too many pairing attempts; retry later."
            )
    async with db.transaction() as tx:
        device, token = await service.pair(tx, body.code, body.name)
    return PairResponse(device=DeviceOut.model_validate(device), token=token)


@router.get("/devices", response_model=ItemList[DeviceOut])
async def list_devices(
    principal: Manager,
    db: Db,
    location_id: uuid.UUID | None = None,
    include: Annotated[
        DeviceListInclude | None,
        Query(description="`revoked`: unpaired devices too, with when and by which key"),
    ] = None,
) -> ItemList[DeviceOut]:
    revoked = include is DeviceListInclude.REVOKED
    async with db.transaction() as tx:
        devices = await service.list_devices(tx, principal, location_id, include_revoked=revoked)
    return ItemList[DeviceOut](items=[DeviceOut.model_validate(d) for d in devices])


@router.get("/devices/me", response_model=DeviceOut)
async def get_my_device(principal: DeviceOnly, db: Db) -> DeviceOut:
    async with db.transaction() as tx:
        device = await service.get_own_device(tx, principal)
    return DeviceOut.model_validate(device)


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unpair_device(device_id: uuid.UUID, principal: Manager, db: Db) -> Response:
    async with db.transaction() as tx:
        await service.unpair(tx, principal, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
