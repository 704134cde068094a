"""Domain events: what changed, recorded by services on the transaction and published by the
realtime layer only after the transaction commits (never inside it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.models import PrintJob


@dataclass(frozen=True, slots=True)
class JobChanged:
    job: PrintJob
    created: bool = False  # a new pending job (submit or reprint): route it to bridges


@dataclass(frozen=True, slots=True)
class DeviceStatusChanged:
    device_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    online: bool


@dataclass(frozen=True, slots=True)
class DeviceUnpaired:
    device_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None


DomainEvent = JobChanged | DeviceStatusChanged | DeviceUnpaired
