"""What the server knows about each socket it holds (local to one process)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from app.auth.principals import DeviceScope, Principal
from app.coordination.owner_lock import Holder


class BridgeState(StrEnum):
    CONNECTED = "connected"  # authenticated, ownership not settled yet
    OWNER = "owner"  # holds the owner lock: gets jobs, may claim at its epoch
    SUPERSEDED = "superseded"  # another socket of the device took over


@dataclass
class BridgeSocket:
    principal: Principal
    device: DeviceScope
    state: BridgeState = BridgeState.CONNECTED
    holder: Holder | None = None
    # Held while ownership is being settled (connect, take_over, a heartbeat retaking a lapsed
    # lock), so two of them never run at once for one socket and hand it two epochs.
    settling: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class WatcherSocket:
    principal: Principal
    locations: set[uuid.UUID] = field(default_factory=set)


Session = BridgeSocket | WatcherSocket


class RevokedKeys:
    """API keys this process heard were revoked (control bus), so a watcher whose key was
    revoked while its connect was looking the key up is refused. Revocation is forever; the
    bound only caps memory (the database refuses a forgotten key at its next connect)."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._keys: dict[uuid.UUID, None] = {}  # insertion order: oldest first

    def add(self, key_id: uuid.UUID) -> None:
        if len(self._keys) >= self.MAX_KEYS:
            del self._keys[next(iter(self._keys))]
        self._keys[key_id] = None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys
