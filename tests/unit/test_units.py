"""Pure units: secrets, the state machine, rate limiting, settings, document validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.auth import secrets as sec
from app.config import ConfigError, Environment, Settings, normalize_database_url
from app.coordination.rate_limit import InMemoryRateLimiter, retry_after_seconds
from app.models import JobStatus
from app.print_jobs.document import Document
from app.print_jobs.states import ALLOWED_TRANSITIONS, TERMINAL_STATUSES, can_transition, sources_of


def test_secrets_are_typed_long_and_hashed() -> None:
    key, token = sec.new_api_key(), sec.new_device_token()
    assert key.startswith("prk_") and token.startswith("prd_")
    assert len(key) - 4 >= 43  # 32 random bytes in url-safe base64 = 256 bits
    assert sec.new_api_key() != key
    assert sec.hash_secret(key) != key.encode() and len(sec.hash_secret(key)) == 32


def test_pairing_codes_avoid_look_alikes_and_normalise() -> None:
    codes = {sec.new_pairing_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) >= 8 and set(c) <= set(sec.PAIRING_ALPHABET) for c in codes)
    assert not set("01ILOU") & set(sec.PAIRING_ALPHABET)
    assert sec.normalize_pairing_code("abcd-efgh 23") == "ABCDEFGH23"


def test_state_machine_matches_the_contract() -> None:
    assert ALLOWED_TRANSITIONS[JobStatus.PENDING] == {
        JobStatus.SENT,
        JobStatus.EXPIRED,
        JobStatus.CANCELED,
    }
    assert ALLOWED_TRANSITIONS[JobStatus.SENT] == {
        JobStatus.PRINTED,
        JobStatus.FAILED,
        JobStatus.UNCONFIRMED,
    }
    assert {
        JobStatus.PRINTED,
        JobStatus.FAILED,
        JobStatus.UNCONFIRMED,
        JobStatus.EXPIRED,
        JobStatus.CANCELED,
    } == TERMINAL_STATUSES
    assert not can_transition(JobStatus.UNCONFIRMED, JobStatus.SENT)  # never re-sent by itself
    assert not can_transition(JobStatus.PRINTED, JobStatus.PENDING)
    assert sources_of(JobStatus.UNCONFIRMED) == {JobStatus.SENT}


async def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(limit=3, window_s=60, clock=lambda: now[0])
    assert [await limiter.hit("a") for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("a")
    assert wait == pytest.approx(60)
    assert await limiter.hit("b") is None  # per key
    now[0] = 30
    assert await limiter.hit("a") == pytest.approx(30)
    now[0] = 60.01
    assert await limiter.hit("a") is None
    assert retry_after_seconds(0.2) == 1 and retry_after_seconds(29.1) == 30


async def test_rate_limiter_table_is_bounded() -> None:
    limiter = InMemoryRateLimiter(limit=1, window_s=60, clock=lambda: 0.0)
    limiter.MAX_KEYS = 50
    for i in range(500):
        await limiter.hit(f"k{i}")
    assert len(limiter._hits) <= 50


def test_database_urls_pick_async_drivers() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_database_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


@pytest.mark.parametrize("token", [None, "", "changeme", "x" * 31])
def test_production_needs_a_real_admin_token(token: str | None) -> None:
    with pytest.raises(ConfigError):
        Settings(env=Environment.PRODUCTION, admin_token=token).check_startable()


def test_development_and_a_real_token_start() -> None:
    Settings(env=Environment.DEVELOPMENT, admin_token=None).check_startable()
    Settings(env=Environment.PRODUCTION, admin_token="r" * 40).check_startable()


def test_document_rejects_unknown_blocks_and_bad_barcodes() -> None:
    Document.model_validate(
        {"blocks": [{"type": "barcode", "data": "123456789012", "symbology": "EAN13"}]}
    )
    for bad in (
        {"blocks": []},
        {"blocks": [{"type": "beep"}]},
        {"blocks": [{"type": "barcode", "data": "12345ABC9012", "symbology": "EAN13"}]},
        {"blocks": [{"type": "text", "text": "x", "colour": "red"}]},
        {"blocks": [{"type": "image", "png_base64": "aGVsbG8="}]},
        {"blocks": [{"type": "feed", "lines": 99}]},
    ):
        with pytest.raises(ValidationError):
            Document.model_validate(bad)
