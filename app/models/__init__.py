"""ORM models, one module per table. Importing this package registers every table."""

from app.models.api_key import ApiKey
from app.models.base import Base
from app.models.device import Device
from app.models.enums import ActorKind, ApiKeyRole, DeviceKind, JobStatus, PrinterState
from app.models.job_event import JobEvent
from app.models.location import Location
from app.models.pairing_code import PairingCode
from app.models.print_job import LOCATION_JOB_PAPER_WIDTH_MM, PrintJob
from app.models.station import Station
from app.models.tenant import Tenant
from app.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "LOCATION_JOB_PAPER_WIDTH_MM",
    "ActorKind",
    "ApiKey",
    "ApiKeyRole",
    "Base",
    "Device",
    "DeviceKind",
    "JobEvent",
    "JobStatus",
    "Location",
    "PairingCode",
    "PrintJob",
    "PrinterState",
    "Station",
    "Tenant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
