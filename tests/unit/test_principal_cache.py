"""The principal cache: entries live their TTL, revocation evicts them, size is bounded."""

from __future__ import annotations

import time
import uuid

from app.auth.cache import PrincipalCache
from app.auth.principals import DeviceScope, Principal, PrincipalKind


def _device(device_id: uuid.UUID) -> Principal:
    scope = DeviceScope(device_id, uuid.uuid4(), None)
    return Principal(PrincipalKind.DEVICE, tenant_id=uuid.uuid4(), device=scope)


def test_entries_expire_after_their_ttl() -> None:
    cache = PrincipalCache(ttl_s=0.05)
    principal = Principal(PrincipalKind.POS, tenant_id=uuid.uuid4(), key_id=uuid.uuid4())
    cache.put(b"h", principal)
    assert cache.get(b"h") is principal
    time.sleep(0.06)
    assert cache.get(b"h") is None


def test_revocation_evicts_only_the_revoked_principal() -> None:
    cache = PrincipalCache(ttl_s=60)
    key_id, device_id = uuid.uuid4(), uuid.uuid4()
    key = Principal(PrincipalKind.MANAGER, tenant_id=uuid.uuid4(), key_id=key_id)
    other_key = Principal(PrincipalKind.POS, tenant_id=uuid.uuid4(), key_id=uuid.uuid4())
    cache.put(b"k", key)
    cache.put(b"o", other_key)
    cache.put(b"d", _device(device_id))
    cache.evict_key(key_id)
    assert cache.get(b"k") is None and cache.get(b"o") is other_key
    cache.evict_device(device_id)
    assert cache.get(b"d") is None and cache.get(b"o") is other_key


def test_ttl_zero_caches_nothing_and_size_is_bounded() -> None:
    off = PrincipalCache(ttl_s=0)
    off.put(b"h", _device(uuid.uuid4()))
    assert off.get(b"h") is None
    small = PrincipalCache(ttl_s=60, max_entries=3)
    for i in range(10):
        small.put(bytes([i]), _device(uuid.uuid4()))
    assert len(small._entries) <= 3
    assert small.get(bytes([9])) is not None
