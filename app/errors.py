"""Errors in the contract's shape: ``{"error": {"code", "message"}}``.

Services raise ``AppError`` subclasses; one set of handlers renders every error, including
FastAPI's own validation errors and unknown routes, so no answer leaves in another shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from app.schemas_common import error_message

log = logging.getLogger(__name__)


class AppError(Exception):
    status_code = 500
    code = "internal_error"
    default_message = "Internal server error."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = headers
        super().__init__(self.message)


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    default_message = "A valid credential is required."


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    default_message = "This credential may not do that."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"
    default_message = "The request is not valid."


class NotRenderable(AppError):
    """A job the renderer has no picture of: a ``raw`` job as text or PNG, or a document the
    agent's renderer refuses (it would fail the job as ``render_error`` too)."""

    status_code = 422
    code = "not_renderable"
    default_message = "This job cannot be rendered in that format."


class UnsupportedMedia(AppError):
    """A CloudPRNT printer asked for a job in a media type it is not served in."""

    status_code = 415
    code = "unsupported_media"
    default_message = "This job is not served in that media type."


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after_s: int, message: str | None = None):
        super().__init__(message, headers=retry_after(retry_after_s))


def retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(max(1, seconds))}


class AlreadyClaimed(AppError):
    status_code = 409
    code = "already_claimed"
    default_message = "Another device claimed this job."


class StaleEpoch(AppError):
    status_code = 409
    code = "stale_epoch"
    default_message = "This epoch is not the device's current one."


class InvalidTransition(AppError):
    status_code = 409
    code = "invalid_transition"
    default_message = "The job cannot move to that status."


class IdempotencyConflict(AppError):
    status_code = 422
    code = "idempotency_conflict"
    default_message = "This Idempotency-Key was used with a different request body."


class InvalidPairingCode(AppError):
    status_code = 400
    code = "invalid_pairing_code"
    default_message = "The pairing code is unknown, used or expired."


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    default_message = "The database is unavailable; retry shortly."


class EncryptionNotConfigured(ServiceUnavailable):
    """A secret the server must keep recoverable (a webhook's) and no key to encrypt it with:
    never stored in clear instead."""

    default_message = (
        "Webhooks are not available: the server has no PRINTRELAY_ENCRYPTION_KEYS to encrypt "
        "their signing secrets with (ask its operator)."
    )


class Overloaded(ServiceUnavailable):
    default_message = "The server is busy; retry shortly."

    def __init__(self, retry_after_s: int = 1, message: str | None = None):
        super().__init__(message, headers=retry_after(retry_after_s))


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The shape of every non-2xx answer."""

    error: ErrorDetail


HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in [
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (413, "payload_too_large"),
        (422, "validation_error"),
        (429, "rate_limited"),
    ]
}


def error_response(
    status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"error": {"code": code, "message": message}},
        headers=headers,
    )


FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


def _flat_routes(routes: Sequence[Any]) -> list[Route]:
    flat: list[Route] = []
    for route in routes:
        if isinstance(route, Route):
            flat.append(route)
        elif hasattr(route, "original_router"):  # FastAPI's lazily included router
            flat.extend(_flat_routes(route.original_router.routes))
        elif hasattr(route, "routes"):
            flat.extend(_flat_routes(route.routes))
    return flat


def allowed_methods(app: Any, path: str) -> set[str]:
    """The methods served at ``path`` (for the ``Allow`` header of a 405): those of every route
    whose template matches it, the most specific templates only (``/v1/devices/me`` is not
    ``/v1/devices/{device_id}``)."""
    matches = [
        route
        for route in _flat_routes(app.router.routes)
        if route.methods and route.path_regex.match(path)
    ]
    if not matches:
        return set()
    fewest = min(route.path.count("{") for route in matches)
    return {m for route in matches if route.path.count("{") == fewest for m in route.methods or ()}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {error_message(err)}")
    return "; ".join(parts) or "The request is not valid."


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return error_response(exc.status_code, exc.code, exc.message, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "validation_error", _describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
            # A body that is not JSON (or not UTF-8) is invalid input like any other: 422.
            return error_response(422, "validation_error", "body: not valid JSON")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route that matched the path; a path
            # served by several routes (GET and POST /v1/locations) allows all of theirs.
            headers["Allow"] = ", ".join(sorted(allowed_methods(request.app, request.url.path)))
        code = HTTP_STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers)

    async def on_database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        err = ServiceUnavailable()
        return error_response(err.status_code, err.code, err.message, retry_after(1))

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "Internal server error.")

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            return await on_database_down(request, exc)
        return await on_unexpected(request, exc)

    import asyncpg

    # Registered by class so the exception middleware answers them without a 500 traceback.
    for cls in (
        OSError,
        PoolTimeout,
        DBAPIError,
        asyncpg.exceptions.PostgresError,
        asyncpg.exceptions.InterfaceError,
        Exception,
    ):
        app.add_exception_handler(cls, on_error)


def is_database_unavailable(exc: BaseException) -> bool:
    """The database (or the network to it) is down or restarting: a 503 to retry, not a 500.

    asyncpg raises plain OSErrors when it cannot connect, its own connection errors when the
    server is starting up or went away, and SQLAlchemy wraps some of them.
    """
    if isinstance(exc, OSError | PoolTimeout | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or is_database_unavailable(exc.orig)  # type: ignore[arg-type]
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.ConnectionDoesNotExistError,
    )
