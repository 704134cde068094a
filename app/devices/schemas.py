from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, computed_field

from app.models import DeviceKind, PrinterState
from app.models.enums import ActorKind
from app.schemas_common import Input, Name, Output

# The kinds a pairing code makes; a CloudPRNT printer is added with POST /v1/cloudprnt-printers.
PairingKind = Literal[DeviceKind.PRINT_BRIDGE, DeviceKind.WEB_BRIDGE]


class PairingCodeCreate(Input):
    location_id: uuid.UUID
    station_id: uuid.UUID | None = None
    kind: PairingKind


class PairingCodeOut(Output):
    code: str
    expires_at: datetime


class PairRequest(Input):
    code: str = Field(min_length=1, max_length=64)
    name: Name


class Actor(Output):
    """Who did something, as job-event history names it (kind and key or device id)."""

    kind: ActorKind
    id: uuid.UUID


class DeviceOut(Output):
    id: uuid.UUID
    name: str
    kind: DeviceKind
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    online: bool
    paired_at: datetime
    last_seen_at: datetime | None
    # The printer's state as the device last reported it (``unknown``/null until it reports).
    printer_state: PrinterState
    printer_state_at: datetime | None
    # Set once unpaired (listed with GET /v1/devices?include=revoked): when, and who.
    revoked_at: datetime | None = None
    revoked_by_key_id: uuid.UUID | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def revoked_by(self) -> Actor | None:
        """The manager key that unpaired the device (``GET /v1/api-keys`` names it); null while
        paired, and for devices unpaired before this was recorded."""
        if self.revoked_by_key_id is None:
            return None
        return Actor(kind=ActorKind.MANAGER, id=self.revoked_by_key_id)


class DeviceListInclude(StrEnum):
    REVOKED = "revoked"


class PairResponse(Output):
    device: DeviceOut
    token: str
