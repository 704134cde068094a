"""Socket.IO room names. Owner sockets join their scope's room; watchers join a location's."""

from __future__ import annotations

import uuid

from app.auth.principals import DeviceScope


def station_room(station_id: uuid.UUID) -> str:
    return f"station:{station_id}"


def location_room(location_id: uuid.UUID) -> str:
    return f"location:{location_id}"


def watch_room(location_id: uuid.UUID) -> str:
    return f"watch:{location_id}"


def device_room(device_id: uuid.UUID) -> str:
    """Every socket of one device, owner or not."""
    return f"device:{device_id}"


def bridge_room(device: DeviceScope) -> str:
    if device.station_id is not None:
        return station_room(device.station_id)
    return location_room(device.location_id)
