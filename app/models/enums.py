"""Enumerations shared by models, schemas and services."""

from enum import StrEnum


class ApiKeyRole(StrEnum):
    MANAGER = "manager"
    POS = "pos"


class DeviceKind(StrEnum):
    PRINT_BRIDGE = "print_bridge"
    WEB_BRIDGE = "web_bridge"
    CLOUDPRNT = "cloudprnt"  # a Star CloudPRNT printer polling the server itself


class PrinterState(StrEnum):
    """A device's printer as it last reported it (``printer.status``); ``unknown`` until then."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    ERROR = "error"

    @property
    def can_print(self) -> bool:
        """Counts as printing for failover (contract: Scope): ``online`` and ``paper_low``,
        and ``unknown`` (never reported: a bridge is trusted until it says otherwise)."""
        return self in (PrinterState.UNKNOWN, PrinterState.ONLINE, PrinterState.PAPER_LOW)


class JobStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    PRINTED = "printed"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    EXPIRED = "expired"
    CANCELED = "canceled"


class ActorKind(StrEnum):
    """Who caused a job's status change (recorded in the job-event history)."""

    MANAGER = "manager"
    POS = "pos"
    DEVICE = "device"
    SYSTEM = "system"
