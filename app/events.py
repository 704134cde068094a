"""Domain events: what changed, recorded by services on the transaction and published by the
realtime layer only after the transaction commits (never inside it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.print_jobs.records import JobView


@dataclass(frozen=True, slots=True)
class JobChanged:
    job: JobView
    created: bool = False  # a new pending job (submit or reprint): route it to bridges
    # For a new station job: whether its station had an online bridge when it was submitted
    # (decided in the submit's transaction); None: the publisher looks it up.
    to_station: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceStatusChanged:
    device_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    online: bool
    tenant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class DeviceUnpaired:
    device_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    tenant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class PrinterStatusChanged:
    """A device reported its printer's state (stored as the device's ``printer_state``)."""

    device_id: uuid.UUID
    location_id: uuid.UUID
    printer: str
    state: str


@dataclass(frozen=True, slots=True)
class StationFailedOver:
    """A station's printing bridge has reported a printer that cannot print for longer than
    the station's ``fallback_after_s`` (found by the sweeper): offer its pending jobs to the
    location bridges (the publisher checks the station is still failed over)."""

    tenant_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ApiKeyRevoked:
    key_id: uuid.UUID


DomainEvent = (
    JobChanged
    | DeviceStatusChanged
    | DeviceUnpaired
    | PrinterStatusChanged
    | StationFailedOver
    | ApiKeyRevoked
)
