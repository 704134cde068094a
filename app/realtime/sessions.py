"""What the server knows about each socket it holds (local to one process)."""

from __future__ import annotations

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


@dataclass
class WatcherSocket:
    principal: Principal
    locations: set[uuid.UUID] = field(default_factory=set)


Session = BridgeSocket | WatcherSocket
