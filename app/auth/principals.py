"""Who is calling: admin, a manager or POS API key, or a device. Each carries its tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from app.models.enums import ActorKind


class PrincipalKind(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    POS = "pos"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class DeviceScope:
    id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    tenant_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    device: DeviceScope | None = None

    @property
    def tenant(self) -> uuid.UUID:
        """The tenant every query of this principal is scoped to."""
        if self.tenant_id is None:
            raise RuntimeError("the admin principal has no tenant")
        return self.tenant_id

    @property
    def actor(self) -> tuple[ActorKind, uuid.UUID | None]:
        match self.kind:
            case PrincipalKind.MANAGER:
                return ActorKind.MANAGER, self.key_id
            case PrincipalKind.POS:
                return ActorKind.POS, self.key_id
            case PrincipalKind.DEVICE:
                assert self.device is not None
                return ActorKind.DEVICE, self.device.id
            case _:
                return ActorKind.SYSTEM, None

    def require_device(self) -> DeviceScope:
        if self.device is None:
            raise RuntimeError("not a device principal")
        return self.device
