from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api_common import Db
from app.auth.dependencies import Admin, AuthFirstRoute, Manager
from app.errors import ERROR_RESPONSES
from app.schemas_common import ItemList
from app.tenants import service
from app.tenants.schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    ApiKeyWithSecret,
    FirstApiKey,
    TenantCreate,
    TenantCreated,
    TenantOut,
)

router = APIRouter(
    prefix="/v1", tags=["tenants"], responses=ERROR_RESPONSES, route_class=AuthFirstRoute
)


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantCreated)
async def create_tenant(body: TenantCreate, _: Admin, db: Db) -> TenantCreated:
    async with db.transaction() as tx:
        tenant, key, secret = await service.create_tenant(tx, body.name)
    return TenantCreated(
        tenant=TenantOut.model_validate(tenant),
        api_key=FirstApiKey(id=key.id, role=key.role, secret=secret),
    )


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyWithSecret)
async def create_api_key(body: ApiKeyCreate, principal: Manager, db: Db) -> ApiKeyWithSecret:
    async with db.transaction() as tx:
        key, secret = await service.create_api_key(tx, principal, body.name, body.role)
    return ApiKeyWithSecret(id=key.id, name=key.name, role=key.role, secret=secret)


@router.get("/api-keys", response_model=ItemList[ApiKeyOut])
async def list_api_keys(principal: Manager, db: Db) -> ItemList[ApiKeyOut]:
    async with db.transaction() as tx:
        keys = await service.list_api_keys(tx, principal)
    return ItemList[ApiKeyOut](items=[ApiKeyOut.model_validate(k) for k in keys])


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(key_id: uuid.UUID, principal: Manager, db: Db) -> Response:
    async with db.transaction() as tx:
        await service.revoke_api_key(tx, principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
