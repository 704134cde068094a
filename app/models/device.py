from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import utcnow
from app.models.base import Base, str_enum, uuid_pk
from app.models.enums import DeviceKind, PrinterState


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        # The sweeper's scan for failovers due (migration 0009): partial, so it holds only the
        # station bridges whose printer is down and whose failover has not been offered yet.
        Index(
            "ix_devices_fallback_due",
            "fallback_at",
            postgresql_where=text("fallback_at IS NOT NULL AND NOT fallback_offered"),
            sqlite_where=text("fallback_at IS NOT NULL AND NOT fallback_offered"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"), index=True)
    station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DeviceKind] = mapped_column(str_enum(DeviceKind))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # Fencing token: every new owner socket gets a higher epoch; claims and reports carry it.
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    paired_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    # Unpairing keeps the row (jobs and history point at it) but the token stops working.
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # The manager key that unpaired it (a plain column, like job_events.actor_id: keys are
    # revoked, never deleted, and this is a record, not a relation).
    revoked_by_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), default=None)
    # The last ``printer.status`` the device reported, and when; ``unknown``/null until then.
    printer_state: Mapped[PrinterState] = mapped_column(
        str_enum(PrinterState), default=PrinterState.UNKNOWN, server_default=text("'unknown'")
    )
    printer_state_at: Mapped[datetime | None] = mapped_column(default=None)
    # Failover (contract: Scope): when this station bridge's printer will have been unable to
    # print (a state other than online/paper_low/unknown) for its station's fallback_after_s;
    # null while it prints or when the station never falls back. Kept here, not computed from
    # the station in the scope SQL, so the claim's condition is one indexed comparison on the
    # device rows it already reads, on both dialects. ``fallback_offered``: the sweeper has
    # offered the station's jobs to the location bridges since (one process does it, by CAS).
    fallback_at: Mapped[datetime | None] = mapped_column(default=None)
    fallback_offered: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # A CloudPRNT printer (kind ``cloudprnt``; null for other kinds): the MAC address it gave
    # at its first poll (a poll from another MAC is refused), its polling interval in seconds
    # and the media types it prints (its answers to the GetPollInterval and Encodings client
    # actions; null until it answers). ``token_hash`` holds the hash of its URL's secret.
    cloudprnt_mac: Mapped[str | None] = mapped_column(String(17), default=None)
    cloudprnt_poll_interval_s: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    cloudprnt_media_types: Mapped[str | None] = mapped_column(String(500), default=None)
