from __future__ import annotations

import uuid
from typing import Literal

from app.schemas_common import Input, Name, Output

PaperWidth = Literal[58, 80]


class LocationCreate(Input):
    name: Name


class LocationOut(Output):
    id: uuid.UUID
    name: str


class StationCreate(Input):
    name: Name
    paper_width_mm: PaperWidth = 80


class StationOut(Output):
    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    paper_width_mm: int
