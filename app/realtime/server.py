"""Socket.IO handlers: thin adapters over the same services as REST.

Bridges authenticate with their device token, become the device's owner (owner lock + a new
epoch), join their scope's room and receive the pending backlog. Watchers (POS, managers)
authenticate with an API key and subscribe to locations of their own tenant.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import socketio

from app.auth.cache import PrincipalCache
from app.auth.principals import DeviceScope, Principal, PrincipalKind
from app.auth.repository import api_key_is_active
from app.auth.secrets import DEVICE_TOKEN_PREFIX, hash_secret
from app.auth.service import authenticate
from app.config import Settings
from app.coordination.bus import ControlBus
from app.coordination.owner_lock import Holder, OwnerLocks
from app.coordination.watchers import InMemoryWatchRegistry, WatchRegistry
from app.db import Database
from app.devices import hot_path as devices_hot_path
from app.devices import service as devices
from app.errors import AppError, Forbidden, Unauthorized
from app.locations.service import require_location
from app.log_safe import quoted
from app.models import JobStatus
from app.observability import metrics
from app.observability.telemetry import device_event
from app.print_jobs import hot_path
from app.print_jobs.schemas import JobUpdate, job_wire
from app.realtime import rooms
from app.realtime.heard_from import HeardFrom
from app.realtime.messages import (
    ClaimMessage,
    PrinterStatusMessage,
    ReportMessage,
    SubscribeMessage,
    ack_for,
    error_ack,
)
from app.realtime.publisher import Publisher
from app.realtime.sessions import (
    BridgeSocket,
    BridgeState,
    RevokedKeys,
    Session,
    WatcherSocket,
)

log = logging.getLogger(__name__)

BACKLOG_PAGE = 200
# Disconnected owners released at once (each: a Redis call, then a database transaction).
CONCURRENT_RELEASES = 16


def refuse(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    # The client sees message == code and data == {code, message}.
    return socketio.exceptions.ConnectionRefusedError(code, {"code": code, "message": message})


class Realtime:
    def __init__(self, sio: socketio.AsyncServer, settings: Settings) -> None:
        self.sio = sio
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.principal_cache = PrincipalCache(settings.auth_cache_ttl_s)
        self.revoked_keys = RevokedKeys()
        self._db: Database | None = None
        self._locks: OwnerLocks | None = None
        self.watchers: WatchRegistry = InMemoryWatchRegistry()
        self.heard_from: HeardFrom | None = None
        self._releases = asyncio.Semaphore(CONCURRENT_RELEASES)
        self.publisher = Publisher(sio, self)
        for event, handler in {
            "connect": self.on_connect,
            "disconnect": self.on_disconnect,
            "take_over": self.on_take_over,
            "heartbeat": self.on_heartbeat,
            "print_job.claim": self.on_claim,
            "print_job.report": self.on_report,
            "printer.status": self.on_printer_status,
            "subscribe": self.on_subscribe,
        }.items():
            sio.on(event, handler)

    async def start(
        self,
        db: Database,
        locks: OwnerLocks,
        bus: ControlBus,
        watchers: WatchRegistry | None = None,
    ) -> None:
        self._db, self._locks = db, locks
        self.heard_from = HeardFrom(db)
        if watchers is not None:
            self.watchers = watchers
        await self.watchers.start()
        self.publisher.bus = bus
        await bus.start(self.publisher.on_control)

    async def stop(self) -> None:
        await self.watchers.close()
        if self.heard_from is not None:
            await self.heard_from.close()

    @property
    def db(self) -> Database:
        assert self._db is not None, "realtime not started"
        return self._db

    @property
    def locks(self) -> OwnerLocks:
        assert self._locks is not None, "realtime not started"
        return self._locks

    # -- connection -------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        auth = auth if isinstance(auth, dict) else {}
        token, api_key = auth.get("token"), auth.get("api_key")
        if isinstance(token, str) and token.startswith(DEVICE_TOKEN_PREFIX):
            await self._connect_bridge(sid, token)
        elif isinstance(api_key, str):
            await self._connect_watcher(sid, api_key)
        else:
            raise refuse("unauthorized", "Send auth {token} (bridge) or {api_key} (watcher).")

    async def _connect_bridge(self, sid: str, token: str) -> None:
        device = await devices_hot_path.device_by_token_hash(self.db, hash_secret(token))
        if device is None:
            raise refuse("unauthorized", "Unknown device token.")
        if device.revoked_at is not None:
            raise refuse("revoked", "This device was unpaired; pair it again.")
        scope = DeviceScope(device.id, device.location_id, device.station_id)
        principal = Principal(PrincipalKind.DEVICE, tenant_id=device.tenant_id, device=scope)
        session = BridgeSocket(principal, scope)
        self.sessions[sid] = session
        await self.sio.enter_room(sid, rooms.device_room(device.id))
        # Ownership is settled once the connection is accepted, so its events follow `connect`.
        # `settling` is held from here until that first attempt ends: a heartbeat arriving
        # before it runs waits instead of taking ownership a second time (two epochs).
        await session.settling.acquire()
        self.sio.start_background_task(self._become_owner_logged, sid, session)
        # Counted once accepted: on_disconnect takes it back for every BridgeSocket session.
        metrics.BRIDGES_CONNECTED.inc()
        device_event("connected", device.id, device.tenant_id, sid=sid)

    async def _connect_watcher(self, sid: str, api_key: str) -> None:
        try:
            principal = await authenticate(self.db, api_key, admin_token=None)
        except Unauthorized as exc:
            raise refuse("unauthorized", exc.message) from exc
        if principal.kind not in (PrincipalKind.MANAGER, PrincipalKind.POS):
            raise refuse("unauthorized", "Watchers authenticate with an API key.")
        if principal.key_id in self.revoked_keys:  # revoked while it was being looked up
            raise refuse("unauthorized", "Unknown or revoked API key.")
        self.sessions[sid] = WatcherSocket(principal)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        session = self.sessions.pop(sid, None)
        if isinstance(session, WatcherSocket):
            for location_id in session.locations:
                try:
                    await self.watchers.remove(location_id)
                except Exception as exc:  # a stale count only costs needless emits
                    log.warning("watch registry: %s", type(exc).__name__)
            return
        if not isinstance(session, BridgeSocket):
            return
        metrics.BRIDGES_CONNECTED.dec()
        device_event("disconnected", session.device.id, session.principal.tenant, sid=sid)
        if session.holder is None:
            return
        try:
            # Thousands of bridges may drop at once (a network blip, a proxy restart): their
            # releases go at the pace of Redis and the database pools instead of all at once.
            async with self._releases:
                await self._release_ownership(session, session.holder)
        except Exception as exc:  # Redis or the database away: the crash path recovers it
            log.warning(
                "releasing device %s failed (%s): its owner lock lapses within %s s and the "
                "sweeper then marks it offline",
                session.device.id,
                type(exc).__name__,
                self.settings.owner_lock_ttl_s,
            )

    async def _release_ownership(self, session: BridgeSocket, holder: Holder) -> None:
        device = session.device
        # Only the holder can release; a superseded socket's release is a no-op.
        if not await self.locks.release(str(device.id), holder):
            return
        async with self.db.transaction() as tx:  # its commit offers a station's backlog
            await devices.lose_ownership(tx, device.id)

    # -- ownership --------------------------------------------------------------------------

    async def _become_owner_logged(self, sid: str, session: BridgeSocket) -> None:
        """The first ownership attempt of a new bridge socket (its ``settling`` lock is held)."""
        try:
            if self.sessions.get(sid) is session:  # still connected
                await self._become_owner(sid, session)
        except Exception:
            log.exception("taking ownership failed for %s", sid)
        finally:
            session.settling.release()

    async def become_owner(self, sid: str) -> int | None:
        """Take the owner lock with a new epoch, store it, join the room, send the backlog."""
        session = self.sessions.get(sid)
        if not isinstance(session, BridgeSocket):
            return None
        async with session.settling:
            return await self._become_owner(sid, session)

    async def _become_owner(self, sid: str, session: BridgeSocket) -> int | None:
        device = session.device
        tenant = session.principal.tenant
        floor = await devices_hot_path.device_epoch(self.db, tenant, device.id)
        if floor is None:
            await self.sio.disconnect(sid)
            return None
        taken = await self.locks.take(str(device.id), sid, self.settings.owner_lock_ttl_s, floor)
        stored = await devices_hot_path.take_ownership(
            self.db, tenant, device.id, taken.holder.epoch
        )
        if not stored:  # unpaired meanwhile
            await self.locks.release(str(device.id), taken.holder)
            await self.sio.disconnect(sid)
            return None
        session.holder, session.state = taken.holder, BridgeState.OWNER
        room = rooms.bridge_room(device)
        previous = taken.previous
        if previous is not None and previous.sid != sid:
            metrics.OWNER_TAKEOVERS.inc()
            device_event("superseded", device.id, tenant, sid=previous.sid)
            await self.sio.leave_room(previous.sid, room)
            await self.sio.emit("superseded", {"device_id": str(device.id)}, to=previous.sid)
            old = self.sessions.get(previous.sid)
            if isinstance(old, BridgeSocket):
                old.state = BridgeState.SUPERSEDED
        await self.sio.enter_room(sid, room)
        await self.sio.emit(
            "bridge.owner", {"device_id": str(device.id), "epoch": taken.holder.epoch}, to=sid
        )
        device_event("owner", device.id, tenant, sid=sid, epoch=taken.holder.epoch)
        await self._send_backlog(sid, session.principal)
        return taken.holder.epoch

    async def _send_backlog(self, sid: str, principal: Principal) -> None:
        cursor: str | None = None
        while True:
            page, cursor = await devices_hot_path.backlog_page(
                self.db, principal, cursor, BACKLOG_PAGE
            )
            for job in page:
                await self.sio.emit("print_job.new", job_wire(job), to=sid)
            if cursor is None:
                return

    async def on_take_over(self, sid: str, *_: Any) -> dict[str, Any]:
        epoch = await self.become_owner(sid)
        if epoch is None:
            return error_ack("forbidden", "Only a bridge socket can take over.")
        return {"epoch": epoch}

    async def on_heartbeat(self, sid: str, *_: Any) -> dict[str, Any]:
        try:
            return await self._heartbeat(sid)
        except Exception as exc:  # Redis or the database away: say so now, not by timing out
            log.warning("heartbeat of %s failed: %s", sid, type(exc).__name__)
            return error_ack("service_unavailable", "Coordination is unavailable; keep trying.")

    async def _heartbeat(self, sid: str) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if not isinstance(session, BridgeSocket):
            return error_ack("forbidden", "Only bridge sockets send heartbeats.")
        async with session.settling:  # a heartbeat right after connect waits for ownership
            pass
        device_id = str(session.device.id)
        holder = session.holder
        if holder is not None and await self.locks.renew(
            device_id, holder, self.settings.owner_lock_ttl_s
        ):
            assert self.heard_from is not None
            self.heard_from.add(session.device.id)  # written with others within a second
            return {"owner": True, "epoch": holder.epoch}
        if await self.locks.current(device_id) is None:
            # The lock lapsed and nobody took it: this socket is the device's only voice.
            epoch = await self.become_owner(sid)
            return {"owner": epoch is not None, "epoch": epoch}
        session.state = BridgeState.SUPERSEDED
        return {"owner": False, "epoch": holder.epoch if holder else None}

    # -- jobs -------------------------------------------------------------------------------

    async def on_claim(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            msg = ClaimMessage.model_validate(data)
            # Validated once: the message holds the same constraints as JobUpdate.
            update = JobUpdate.model_construct(status=JobStatus.SENT, epoch=msg.epoch)
            return await self._update_job(sid, msg.id, update)
        except Exception as exc:
            return ack_for(exc)

    async def on_report(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            msg = ReportMessage.model_validate(data)
            update = JobUpdate.model_construct(status=msg.status, epoch=msg.epoch, error=msg.error)
            return await self._update_job(sid, msg.id, update)
        except Exception as exc:
            return ack_for(exc)

    async def _update_job(self, sid: str, job_id: uuid.UUID, update: JobUpdate) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if not isinstance(session, BridgeSocket):
            raise Forbidden("Only bridge sockets claim and report jobs.")
        job = await hot_path.update_from_device(
            self.db, session.principal, job_id, update, self.settings.job_lease_s
        )
        return {"ok": True, "job": job_wire(job)}

    async def on_printer_status(self, sid: str, data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if not isinstance(session, BridgeSocket):
            return error_ack("forbidden", "Only bridge sockets report printer status.")
        try:
            msg = PrinterStatusMessage.model_validate(data)
        except Exception as exc:
            return ack_for(exc)
        log.info("device %s printer %s: %s", session.device.id, quoted(msg.printer), msg.state)
        try:
            async with self.db.transaction() as tx:  # its commit relays printer.status
                await devices.report_printer_state(
                    tx, session.principal.tenant, session.device.id, msg.printer, msg.state
                )
        except Exception as exc:
            return ack_for(exc)
        return {"ok": True}

    # -- watchers ---------------------------------------------------------------------------

    async def on_subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if not isinstance(session, WatcherSocket):
            return error_ack("forbidden", "Only API-key sockets subscribe to locations.")
        try:
            msg = SubscribeMessage.model_validate(data)
            async with self.db.transaction() as tx:
                key_id = session.principal.key_id
                # A socket whose revocation message this process missed (Redis was away).
                if key_id is None or not await api_key_is_active(
                    tx, session.principal.tenant, key_id
                ):
                    raise Unauthorized("This API key was revoked.")
                await require_location(tx, session.principal.tenant, msg.location_id)
        except (AppError, ValueError) as exc:
            return ack_for(exc)
        if msg.location_id not in session.locations:
            await self.sio.enter_room(sid, rooms.watch_room(msg.location_id))
            # Counted before the ack: every change committed after the ack reaches this socket.
            try:
                await self.watchers.add(msg.location_id)
            except Exception:
                await self.sio.leave_room(sid, rooms.watch_room(msg.location_id))
                return error_ack("service_unavailable", "Coordination is unavailable; retry.")
            session.locations.add(msg.location_id)
        return {"ok": True}

    def local_sids_of_key(self, key_id: uuid.UUID) -> list[str]:
        return [
            sid
            for sid, s in self.sessions.items()
            if isinstance(s, WatcherSocket) and s.principal.key_id == key_id
        ]

    def local_sids_of(self, device_id: uuid.UUID) -> list[str]:
        return [
            sid
            for sid, s in self.sessions.items()
            if isinstance(s, BridgeSocket) and s.device.id == device_id
        ]
