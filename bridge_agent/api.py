"""The few REST calls the agent makes (pairing, and reconciliation after a reconnect)."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

REQUEST_TIMEOUT_S = 15


class ApiError(Exception):
    """The server answered, with an error (or with something that is not Printrelay's JSON)."""

    def __init__(
        self, status: int, code: str, message: str, retry_after_s: int | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.retry_after_s = retry_after_s


class Unreachable(Exception):
    """No HTTP answer at all: refused, unresolvable, TLS failure, timed out."""


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        body = await response.json(content_type=None)
    except ValueError:  # not JSON: another web server, or a proxy's error page, answered
        body = None
    if response.status >= 400 or body is None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise ApiError(
            response.status,
            error.get("code", "unexpected_response"),
            error.get("message") or f"HTTP {response.status} {response.reason or ''}".strip(),
            _retry_after_s(response.headers.get("Retry-After")),
        )
    return body


def _retry_after_s(value: str | None) -> int | None:
    """Retry-After as whole seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))


async def pair(server: str, code: str, name: str) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                f"{server.rstrip('/')}/v1/devices/pair", json={"code": code, "name": name}
            ) as r,
        ):
            result: dict[str, Any] = await _json(r)
            return result
    except TimeoutError:
        raise Unreachable(f"no answer in {REQUEST_TIMEOUT_S} s") from None
    except aiohttp.ClientError as exc:
        raise Unreachable(_reason(exc)) from None


def _reason(exc: aiohttp.ClientError) -> str:
    """The cause a person can act on ("Connection refused"), not aiohttp's whole sentence."""
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, ConnectionError) and cause.errno:
            return os.strerror(cause.errno)  # "Connection refused", not the socket's address
        return cause.strerror or str(cause)
    return str(exc) or type(exc).__name__


class DeviceApi:
    """REST as the device (token in the Authorization header, never in a URL)."""

    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DeviceApi:
        self._session = aiohttp.ClientSession(
            headers=self._headers, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def me(self) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(f"{self.server}/v1/devices/me") as r:
            result: dict[str, Any] = await _json(r)
            return result

    async def job(self, job_id: str) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(f"{self.server}/v1/print-jobs/{job_id}") as r:
            result: dict[str, Any] = await _json(r)
            return result

    async def jobs(self, status: str) -> list[dict[str, Any]]:
        """Every job in this device's scope (and its own claims) with ``status``, oldest first."""
        assert self._session is not None
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"status": status, "limit": "200"}
            if cursor:
                params["cursor"] = cursor
            async with self._session.get(f"{self.server}/v1/print-jobs", params=params) as r:
                page = await _json(r)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items
