"""Credential lookups by secret hash."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.db import Tx
from app.models import ApiKey, Device


async def api_key_by_hash(tx: Tx, secret_hash: bytes) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.secret_hash == secret_hash, ApiKey.revoked_at.is_(None))
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def device_by_token_hash(tx: Tx, token_hash: bytes) -> Device | None:
    stmt = select(Device).where(Device.token_hash == token_hash, Device.revoked_at.is_(None))
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def api_key_is_active(tx: Tx, tenant_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    stmt = select(ApiKey.id).where(
        ApiKey.id == key_id, ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None)
    )
    return (await tx.session.execute(stmt)).first() is not None
