"""Turn a bearer secret into a Principal."""

from __future__ import annotations

from app.auth import repository
from app.auth.cache import PrincipalCache
from app.auth.principals import DeviceScope, Principal, PrincipalKind
from app.auth.secrets import (
    API_KEY_PREFIX,
    DEVICE_TOKEN_PREFIX,
    constant_time_equals,
    hash_secret,
)
from app.db import Database
from app.errors import Unauthorized
from app.models import ApiKeyRole


async def authenticate(
    db: Database, secret: str, admin_token: str | None, cache: PrincipalCache | None = None
) -> Principal:
    if secret.startswith((API_KEY_PREFIX, DEVICE_TOKEN_PREFIX)):
        secret_hash = hash_secret(secret)
        principal = cache.get(secret_hash) if cache is not None else None
        if principal is None:
            principal = await _look_up(db, secret, secret_hash)
            if cache is not None:
                cache.put(secret_hash, principal)
        return principal
    if admin_token and constant_time_equals(secret, admin_token):
        return Principal(kind=PrincipalKind.ADMIN)
    raise Unauthorized()


async def _look_up(db: Database, secret: str, secret_hash: bytes) -> Principal:
    if secret.startswith(API_KEY_PREFIX):
        async with db.transaction() as tx:
            key = await repository.api_key_by_hash(tx, secret_hash)
        if key is None:
            raise Unauthorized("Unknown or revoked API key.")
        kind = PrincipalKind.MANAGER if key.role is ApiKeyRole.MANAGER else PrincipalKind.POS
        return Principal(kind=kind, tenant_id=key.tenant_id, key_id=key.id)
    async with db.transaction() as tx:
        device = await repository.device_by_token_hash(tx, secret_hash)
    if device is None:
        raise Unauthorized("Unknown or revoked device token.")
    scope = DeviceScope(device.id, device.location_id, device.station_id)
    return Principal(kind=PrincipalKind.DEVICE, tenant_id=device.tenant_id, device=scope)
