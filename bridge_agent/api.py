"""The few REST calls the agent makes (pairing, and reconciliation after a reconnect)."""

from __future__ import annotations

from typing import Any

import aiohttp

REQUEST_TIMEOUT_S = 15


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


async def _json(response: aiohttp.ClientResponse) -> Any:
    body = await response.json(content_type=None)
    if response.status >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise ApiError(response.status, error.get("code", "error"), error.get("message", ""))
    return body


async def pair(server: str, code: str, name: str) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(
            f"{server.rstrip('/')}/v1/devices/pair", json={"code": code, "name": name}
        ) as r,
    ):
        result: dict[str, Any] = await _json(r)
        return result


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
