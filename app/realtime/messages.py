"""Payloads of the bridge → server events, validated like REST bodies."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from app.errors import AppError, is_database_unavailable
from app.models import JobStatus, PrinterState
from app.print_jobs.schemas import check_error_on_failure
from app.schemas_common import Epoch, Input, error_message


class ClaimMessage(Input):
    id: uuid.UUID
    epoch: Epoch


class ReportMessage(Input):
    id: uuid.UUID
    epoch: Epoch
    status: Literal[JobStatus.PRINTED, JobStatus.FAILED]
    error: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _error_only_on_failure(self) -> ReportMessage:
        check_error_on_failure(self.status, self.error)
        return self


class PrinterStatusMessage(Input):
    printer: str = Field(min_length=1, max_length=100)
    state: PrinterState

    @model_validator(mode="after")
    def _reported_state(self) -> PrinterStatusMessage:
        # ``unknown`` is what the server says before any report, never a report.
        if self.state is PrinterState.UNKNOWN:
            raise ValueError("state: a printer reports what it is, not 'unknown'")
        return self


class SubscribeMessage(Input):
    location_id: uuid.UUID


def error_ack(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def ack_for(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, AppError):
        return error_ack(exc.code, exc.message)
    if is_database_unavailable(exc):
        return error_ack("service_unavailable", "The database is unavailable; retry shortly.")
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return error_ack("validation_error", "payload: invalid")
        where = ".".join(str(p) for p in errors[0]["loc"])
        return error_ack("validation_error", f"{where or 'payload'}: {error_message(errors[0])}")
    raise exc
