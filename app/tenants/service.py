from __future__ import annotations

import uuid
from collections.abc import Sequence

from app.auth.principals import Principal
from app.auth.secrets import hash_secret, new_api_key
from app.db import Tx, utcnow
from app.errors import NotFound
from app.events import ApiKeyRevoked
from app.models import ApiKey, ApiKeyRole, Tenant
from app.tenants import repository


async def create_tenant(tx: Tx, name: str) -> tuple[Tenant, ApiKey, str]:
    """A tenant and its first manager key; the key's secret is returned once, here."""
    tenant = await repository.add_tenant(tx, name)
    key, secret = await _issue_key(tx, tenant.id, "initial manager key", ApiKeyRole.MANAGER)
    return tenant, key, secret


async def create_api_key(
    tx: Tx, principal: Principal, name: str, role: ApiKeyRole
) -> tuple[ApiKey, str]:
    return await _issue_key(tx, principal.tenant, name, role)


async def list_api_keys(tx: Tx, principal: Principal) -> Sequence[ApiKey]:
    return await repository.list_api_keys(tx, principal.tenant)


async def revoke_api_key(tx: Tx, principal: Principal, key_id: uuid.UUID) -> None:
    if not await repository.revoke_api_key(tx, principal.tenant, key_id, utcnow()):
        raise NotFound("API key not found.")
    tx.publish(ApiKeyRevoked(key_id))  # every process forgets it (app/auth/cache.py)


async def _issue_key(
    tx: Tx, tenant_id: uuid.UUID, name: str, role: ApiKeyRole
) -> tuple[ApiKey, str]:
    secret = new_api_key()
    key = await repository.add_api_key(tx, tenant_id, name, role, hash_secret(secret))
    return key, secret
