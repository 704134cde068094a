"""Principals by secret hash, so a request does not need a database round trip to learn who
sent it.

Revocation still works at once: unpairing a device or revoking a key evicts its entries in this
process when the revoking transaction commits, and in every other process through the control
bus (``app.realtime.publisher``). The TTL bounds how long a process that missed a bus message
(Redis down) could still accept a revoked secret; writes that matter re-check in SQL anyway
(claims and reports are fenced by the device row, submissions by the key row).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from app.auth.principals import Principal


class PrincipalCache:
    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[Principal, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, secret_hash: bytes) -> Principal | None:
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        principal, expires = entry
        if time.monotonic() >= expires:
            del self._entries[secret_hash]
            return None
        return principal

    def put(self, secret_hash: bytes, principal: Principal) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare, and correct: entries are only a shortcut
        self._entries[secret_hash] = (principal, time.monotonic() + self.ttl_s)

    def evict_device(self, device_id: uuid.UUID) -> None:
        self._evict(lambda p: p.device is not None and p.device.id == device_id)

    def evict_key(self, key_id: uuid.UUID) -> None:
        self._evict(lambda p: p.key_id == key_id)

    def _evict(self, matches: Callable[[Principal], bool]) -> None:
        for secret_hash in [h for h, (p, _) in self._entries.items() if matches(p)]:
            del self._entries[secret_hash]

    def clear(self) -> None:
        self._entries.clear()
