from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator

from app.schemas_common import Input, Output


class WebhookEvent(StrEnum):
    PRINT_JOB_UPDATED = "print_job.updated"
    DEVICE_STATUS = "device.status"


class WebhookCreate(Input):
    # http(s), printable ASCII (an international name in punycode); the host must resolve to
    # public addresses, which no schema can state (checked by the server, 422).
    url: str = Field(min_length=1, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[!-~]+$")
    events: list[WebhookEvent] = Field(
        min_length=1, max_length=2, json_schema_extra={"uniqueItems": True}
    )
    location_id: uuid.UUID | None = None

    @field_validator("events")
    @classmethod
    def _distinct(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        if len(set(events)) != len(events):
            raise ValueError("events must not repeat")
        return events


class WebhookOut(Output):
    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    location_id: uuid.UUID | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str  # shown once, here


class DeliveryAttemptOut(Output):
    id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: WebhookEvent
    attempt: int
    status_code: int | None
    error: str | None
    at: datetime
