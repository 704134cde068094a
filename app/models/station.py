from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, uuid_pk

DEFAULT_FALLBACK_AFTER_S = 60


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    paper_width_mm: Mapped[int] = mapped_column(SmallInteger, default=80)
    # How long (s) every online station bridge must report a printer that cannot print before
    # the location bridges take the station's jobs; null: never (contract: Scope).
    fallback_after_s: Mapped[int | None] = mapped_column(
        Integer, default=DEFAULT_FALLBACK_AFTER_S, server_default=text("60"), nullable=True
    )
    created_at: Mapped[datetime] = created_at()
