from __future__ import annotations

import uuid

from app.devices.schemas import DeviceOut
from app.schemas_common import Input, Name, Output


class CloudPrntPrinterCreate(Input):
    location_id: uuid.UUID
    station_id: uuid.UUID | None = None
    name: Name


class CloudPrntPrinterCreated(Output):
    device: DeviceOut
    # What to type into the printer's CloudPRNT settings ("Server URL"); it holds the
    # printer's secret and is shown only here.
    server_url: str
