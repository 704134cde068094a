from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.models import DeviceKind
from app.schemas_common import Input, Name, Output


class PairingCodeCreate(Input):
    location_id: uuid.UUID
    station_id: uuid.UUID | None = None
    kind: DeviceKind


class PairingCodeOut(Output):
    code: str
    expires_at: datetime


class PairRequest(Input):
    code: str = Field(min_length=1, max_length=64)
    name: Name


class DeviceOut(Output):
    id: uuid.UUID
    name: str
    kind: DeviceKind
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    online: bool
    paired_at: datetime
    last_seen_at: datetime | None
    # Set once unpaired (listed with GET /v1/devices?include=revoked): when, and the id of the
    # manager key that did it (GET /v1/api-keys names it).
    revoked_at: datetime | None = None
    revoked_by_key_id: uuid.UUID | None = None


class DeviceListInclude(StrEnum):
    REVOKED = "revoked"


class PairResponse(Output):
    device: DeviceOut
    token: str
