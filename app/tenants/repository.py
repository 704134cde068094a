from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from app.db import Tx
from app.models import ApiKey, ApiKeyRole, Tenant


async def add_tenant(tx: Tx, name: str) -> Tenant:
    tenant = Tenant(id=uuid.uuid4(), name=name)
    tx.session.add(tenant)
    await tx.session.flush()
    return tenant


async def add_api_key(
    tx: Tx, tenant_id: uuid.UUID, name: str, role: ApiKeyRole, secret_hash: bytes
) -> ApiKey:
    key = ApiKey(
        id=uuid.uuid4(), tenant_id=tenant_id, name=name, role=role, secret_hash=secret_hash
    )
    tx.session.add(key)
    await tx.session.flush()
    return key


async def list_api_keys(tx: Tx, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    stmt = (
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def revoke_api_key(tx: Tx, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime) -> bool:
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    )
    return (await tx.session.execute(stmt)).first() is not None
