"""Domain events in, socket emits out (after the commit that made them true)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import socketio
from sqlalchemy import select

from app.auth.principals import Principal, PrincipalKind
from app.coordination.bus import ControlBus
from app.db import utcnow
from app.events import (
    ApiKeyRevoked,
    DeviceStatusChanged,
    DeviceUnpaired,
    JobChanged,
    PrinterStatusChanged,
    StationFailedOver,
)
from app.models import JobStatus
from app.print_jobs import repository as jobs_repository
from app.print_jobs import service as jobs
from app.print_jobs.records import JobView
from app.print_jobs.repository import JobFilter
from app.print_jobs.schemas import job_wire
from app.realtime import rooms

if TYPE_CHECKING:
    from app.realtime.server import Realtime

log = logging.getLogger(__name__)

UNPAIRED = "device.unpaired"
KEY_REVOKED = "api_key.revoked"


class Publisher:
    def __init__(self, sio: socketio.AsyncServer, realtime: Realtime) -> None:
        self.sio = sio
        self.realtime = realtime
        self.bus: ControlBus | None = None

    async def publish(self, events: Sequence[Any]) -> None:
        for event in events:
            match event:
                case JobChanged(job=job, created=created, to_station=to_station):
                    await self._job_changed(job, created, to_station)
                case DeviceStatusChanged():
                    await self._device_status(
                        event.device_id, event.location_id, event.station_id, event.online
                    )
                    if not event.online and event.station_id is not None:
                        await self.offer_station_backlog_to_location(
                            event.tenant_id, event.location_id, event.station_id
                        )
                case DeviceUnpaired():
                    self.realtime.principal_cache.evict_device(event.device_id)
                    await self._device_status(
                        event.device_id, event.location_id, event.station_id, False
                    )
                    assert self.bus is not None
                    await self.bus.publish({"type": UNPAIRED, "device_id": str(event.device_id)})
                    if event.station_id is not None:
                        await self.offer_station_backlog_to_location(
                            event.tenant_id, event.location_id, event.station_id
                        )
                case StationFailedOver(tenant_id=t, location_id=loc, station_id=st):
                    await self.offer_station_backlog_to_location(t, loc, st)
                case PrinterStatusChanged():
                    await self.printer_status(
                        event.device_id, event.location_id, event.printer, event.state
                    )
                case ApiKeyRevoked(key_id=key_id):
                    self.realtime.principal_cache.evict_key(key_id)
                    assert self.bus is not None
                    await self.bus.publish({"type": KEY_REVOKED, "key_id": str(key_id)})

    async def _job_changed(self, job: JobView, created: bool, to_station: bool | None) -> None:
        payload = job_wire(job)
        if await self.realtime.watchers.watched(job.location_id):
            room = rooms.watch_room(job.location_id)
            await self.sio.emit("print_job.updated", payload, room=room)
        if created and job.status is JobStatus.PENDING:
            await self.sio.emit("print_job.new", payload, room=await self._route(job, to_station))

    async def _route(self, job: JobView, to_station: bool | None) -> str:
        """A station's job goes to its station bridge while one is online and printing (see
        ``printing_station_bridge``), else to the location bridges; a location job goes to the
        location bridges."""
        if job.station_id is None:
            return rooms.location_room(job.location_id)
        if to_station is None:
            to_station = await self._station_has_online_bridge(job.station_id)
        if to_station:
            return rooms.station_room(job.station_id)
        return rooms.location_room(job.location_id)

    async def _station_has_online_bridge(self, station_id: uuid.UUID) -> bool:
        stmt = select(jobs_repository.printing_station_bridge(station_id, utcnow()))
        async with self.realtime.db.transaction() as tx:
            return bool((await tx.session.execute(stmt)).scalar())

    async def _device_status(
        self,
        device_id: uuid.UUID,
        location_id: uuid.UUID,
        station_id: uuid.UUID | None,
        online: bool,
    ) -> None:
        payload = {
            "device_id": str(device_id),
            "online": online,
            "station_id": str(station_id) if station_id else None,
        }
        await self.sio.emit("device.status", payload, room=rooms.watch_room(location_id))

    async def printer_status(
        self, device_id: uuid.UUID, location_id: uuid.UUID, printer: str, state: str
    ) -> None:
        payload = {"device_id": str(device_id), "printer": printer, "state": state}
        await self.sio.emit("printer.status", payload, room=rooms.watch_room(location_id))

    async def offer_station_backlog_to_location(
        self, tenant_id: uuid.UUID, location_id: uuid.UUID, station_id: uuid.UUID
    ) -> None:
        """A station lost its printing bridge: its pending jobs now belong to the location
        bridges.

        Run on every way a station device goes offline (a clean disconnect, the sweeper after
        its server died, an unpair): each commits a DeviceStatusChanged or DeviceUnpaired; and
        when the sweeper finds a station failed over (StationFailedOver: every online bridge's
        printer down for longer than the station's fallback_after_s)."""
        if await self._station_has_online_bridge(station_id):
            return
        filters = JobFilter(
            location_id=location_id, station_id=station_id, status=JobStatus.PENDING
        )
        manager_view = Principal(kind=PrincipalKind.MANAGER, tenant_id=tenant_id)
        cursor: str | None = None
        room = rooms.location_room(location_id)
        while True:
            async with self.realtime.db.transaction() as tx:
                page, cursor = await jobs.list_jobs(tx, manager_view, filters, cursor, 200)
            for job in page:
                await self.sio.emit("print_job.new", job_wire(job), room=room)
            if cursor is None:
                return

    async def on_control(self, message: dict[str, Any]) -> None:
        """Run in every server process: act on the sockets this process holds."""
        if message.get("type") == KEY_REVOKED:
            key_id = uuid.UUID(str(message["key_id"]))
            self.realtime.principal_cache.evict_key(key_id)
            # Remembered, so a socket of the key authenticating right now is refused too.
            self.realtime.revoked_keys.add(key_id)
            for sid in self.realtime.local_sids_of_key(key_id):
                await self.sio.emit(KEY_REVOKED, {"key_id": str(key_id)}, to=sid)
                await self.sio.disconnect(sid)
        if message.get("type") == UNPAIRED:
            device_id = uuid.UUID(str(message["device_id"]))
            self.realtime.principal_cache.evict_device(device_id)
            for sid in self.realtime.local_sids_of(device_id):
                await self.sio.emit(UNPAIRED, {"device_id": str(device_id)}, to=sid)
                await self.sio.disconnect(sid)
