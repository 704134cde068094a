"""Builders for tests: tenants, keys, locations, stations, paired devices and jobs, made
through the public REST API (so the tests drive what users drive)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ADMIN_TOKEN = "test-admin-token-" + "x" * 32
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

DOCUMENT: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": "COCINA", "align": "center", "bold": True},
        {"type": "row", "left": "2x Burger", "right": "19.00"},
        {"type": "cut"},
    ]
}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


@dataclass
class Device:
    id: str
    token: str
    location_id: str
    station_id: str | None
    epoch: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Tenant:
    world: World
    id: str
    manager_secret: str
    pos_secret: str = ""
    locations: list[str] = field(default_factory=list)

    @property
    def manager(self) -> dict[str, str]:
        return bearer(self.manager_secret)

    @property
    def pos(self) -> dict[str, str]:
        return bearer(self.pos_secret)

    async def location(self, name: str = "Main") -> str:
        r = await self.world.client.post("/v1/locations", json={"name": name}, headers=self.manager)
        assert r.status_code == 201, r.text
        location_id: str = r.json()["id"]
        self.locations.append(location_id)
        return location_id

    async def station(self, location_id: str, name: str = "COCINA", width: int = 80) -> str:
        r = await self.world.client.post(
            f"/v1/locations/{location_id}/stations",
            json={"name": name, "paper_width_mm": width},
            headers=self.manager,
        )
        assert r.status_code == 201, r.text
        station_id: str = r.json()["id"]
        return station_id

    async def update_station(self, station_id: str, **changes: Any) -> dict[str, Any]:
        """``PATCH /v1/stations/{id}`` with the manager key: the station as it is now."""
        r = await self.world.client.patch(
            f"/v1/stations/{station_id}", json=changes, headers=self.manager
        )
        assert r.status_code == 200, r.text
        station: dict[str, Any] = r.json()
        return station

    async def pairing_code(
        self, location_id: str, station_id: str | None = None, kind: str = "print_bridge"
    ) -> str:
        r = await self.world.client.post(
            "/v1/pairing-codes",
            json={"location_id": location_id, "station_id": station_id, "kind": kind},
            headers=self.manager,
        )
        assert r.status_code == 201, r.text
        code: str = r.json()["code"]
        return code

    async def device(
        self, location_id: str, station_id: str | None = None, *, online: bool = False
    ) -> Device:
        code = await self.pairing_code(location_id, station_id)
        r = await self.world.client.post(
            "/v1/devices/pair", json={"code": code, "name": f"bridge-{code[:4]}"}
        )
        assert r.status_code == 201, r.text
        body = r.json()
        device = Device(body["device"]["id"], body["token"], location_id, station_id)
        if online:
            await self.world.set_online(device, True)
        return device

    async def job(
        self,
        location_id: str,
        station_id: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"location_id": location_id, "station_id": station_id}
        if "raw" not in fields:
            body["document"] = DOCUMENT
        body.update(fields)
        r = await self.world.client.post(
            "/v1/print-jobs", json=body, headers=headers or self.manager
        )
        assert r.status_code == 201, r.text
        job: dict[str, Any] = r.json()
        return job


class World:
    def __init__(self, client: httpx.AsyncClient, app: Any):
        self.client = client
        self.app = app

    async def tenant(self, name: str = "Cafe") -> Tenant:
        r = await self.client.post("/v1/tenants", json={"name": name}, headers=ADMIN)
        assert r.status_code == 201, r.text
        body = r.json()
        tenant = Tenant(self, body["tenant"]["id"], body["api_key"]["secret"])
        k = await self.client.post(
            "/v1/api-keys", json={"name": "till 1", "role": "pos"}, headers=tenant.manager
        )
        assert k.status_code == 201, k.text
        tenant.pos_secret = k.json()["secret"]
        return tenant

    async def set_epoch(self, device: Device, epoch: int) -> None:
        """Until the realtime layer hands out epochs, tests set them through the service."""
        from app.devices import service

        async with self.app.state.db.transaction() as tx:
            tenant_id = await self._tenant_of(tx, device)
            await service.set_epoch(tx, tenant_id, uuid.UUID(device.id), epoch)
        device.epoch = epoch

    async def set_online(self, device: Device, online: bool) -> None:
        from app.devices import service

        async with self.app.state.db.transaction() as tx:
            tenant_id = await self._tenant_of(tx, device)
            await service.set_online(tx, tenant_id, uuid.UUID(device.id), online)

    async def _tenant_of(self, tx: Any, device: Device) -> uuid.UUID:
        from app.models import Device as DeviceRow

        row = await tx.session.get(DeviceRow, uuid.UUID(device.id))
        assert row is not None
        tenant_id: uuid.UUID = row.tenant_id
        return tenant_id

    async def claim(self, device: Device, job_id: str, epoch: int | None = None) -> httpx.Response:
        return await self.client.patch(
            f"/v1/print-jobs/{job_id}",
            json={"status": "sent", "epoch": device.epoch if epoch is None else epoch},
            headers=device.headers,
        )

    async def report(
        self, device: Device, job_id: str, status: str, error: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"status": status, "epoch": device.epoch}
        if error is not None:
            body["error"] = error
        return await self.client.patch(
            f"/v1/print-jobs/{job_id}", json=body, headers=device.headers
        )
