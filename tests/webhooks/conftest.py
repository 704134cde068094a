from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from tests.webhooks.support import app_with_sender


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    async with app_with_sender(settings) as application:
        yield application
