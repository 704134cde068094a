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
