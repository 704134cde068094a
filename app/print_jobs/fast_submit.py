"""``POST /v1/print-jobs`` without FastAPI's per-request machinery, for the requests that are
valid.

Submitting is what a POS does all day, and FastAPI's dependency solving, route matching and
exception layers cost more CPU per submission than the statement that stores the job. This
ASGI middleware sits in front of the router and serves a submission itself when everything
about it is in order: a ``Bearer`` credential of a POS or manager key, no query string, an
``application/json`` body that validates as ``JobCreate``, a well-formed Idempotency-Key if
any. It then does what the endpoint does, with the same functions (``accept_submission``).

Anything else (a missing credential or another kind's, a body that does not validate, another
content type) is passed on untouched, body included, to the FastAPI route, which says what is
wrong exactly as before: the route stays the one definition of the endpoint's errors and of
its OpenAPI entry. Errors raised by the functions both share (an unknown or revoked secret, the
rate limit, an unknown location, the database away) are answered here by the app's own
exception handlers, as the route's would be: passing them on would do the work twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import json_codec
from app.auth.dependencies import POS_OR_MANAGER, authenticate_secret, bearer_secret
from app.errors import AppError
from app.print_jobs.schemas import JobCreate
from app.print_jobs.submission import accept_submission, check_idempotency_key

PATH = "/v1/print-jobs"
JSON = "application/json"


class FastSubmit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or scope["query_string"]
            or not scope["app"].state.settings.hot_path
        ):
            await self.app(scope, receive, send)
            return
        try:
            accepted = await self._accept(scope, receive)
            if accepted is None:  # the request is gone (the body-size limit answers it)
                return
            body, submission = accepted
            if submission is not None:
                principal, job, key = submission
                response = await accept_submission(scope["app"].state, principal, job, key)
        except Exception as exc:  # the database away while authenticating or storing, ...
            response = await _handled(scope, exc)
        else:
            if submission is None:
                await self.app(scope, _replay(body, receive), send)
                return
        await response(scope, receive, send)

    async def _accept(
        self, scope: Scope, receive: Receive
    ) -> tuple[bytes, tuple[Any, JobCreate, str | None] | None] | None:
        """(body, (principal, job, Idempotency-Key)) when this path serves the request,
        (body, None) when the route should; None if the client went away."""
        authorization = content_type = idempotency_key = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value.decode("latin-1")
        body = await _read_body(receive)
        if body is None:
            return None
        # The route parses JSON only when told it is JSON (FastAPI's strict content type);
        # other JSON types (application/*+json) are left to it.
        if content_type is None or content_type.split(";")[0].strip().lower() != JSON:
            return body, None
        secret = bearer_secret(authorization)
        if secret is None:
            return body, None
        # An unknown or revoked secret is answered here (401, as the route would), so a
        # guesser does not cost two lookups.
        principal = await authenticate_secret(scope["app"].state, secret)
        if principal.kind not in POS_OR_MANAGER:
            return body, None
        try:
            key = check_idempotency_key(idempotency_key)
            job = JobCreate.model_validate(json_codec.loads(body))
        except (AppError, ValidationError, ValueError, RecursionError):  # ValueError: JSON
            return body, None
        return body, (principal, job, key)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the route the body already read, then the client's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _handled(scope: Scope, exc: Exception) -> Any:
    """The response the app's exception handlers give ``exc`` (as the route would get)."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return await handler(Request(scope), exc)
    raise exc
