"""Settings from the environment (prefix ``PRINTRELAY_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.observability.logs import LogFormat
from app.secret_box import SecretBox

DEFAULT_DATABASE_FILE = "printrelay.db"
MIN_ADMIN_TOKEN_CHARS = 32
# Values that people paste from examples; refused outside development.
PLACEHOLDER_ADMIN_TOKENS = frozenset({"changeme", "change-me", "admin", "secret", "password"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(RuntimeError):
    """The settings cannot run a safe server."""


def normalize_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs; pick the async drivers."""
    for plain in (
        "postgresql://",
        "postgres://",
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
    ):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")


def check_redis_url(url: str) -> None:
    """ValueError unless ``url`` is one that both redis-py and python-socketio's manager take:
    ``redis://``, ``rediss://``, ``unix://`` or ``redis+sentinel://h1:p1,h2:p2/db/service``."""
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ValueError(
            f"PRINTRELAY_REDIS_URL: scheme {scheme!r} is not one of {', '.join(REDIS_SCHEMES)}"
        )
    if scheme == "redis+sentinel":
        from app.coordination.redis_client import parse_sentinel_url

        parse_sentinel_url(url)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRINTRELAY_", extra="ignore")

    env: Environment = Environment.PRODUCTION
    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"
    )
    redis_url: str | None = None
    admin_token: str | None = None
    job_lease_s: float = Field(default=120.0, gt=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    pairing_code_ttl_s: int = Field(default=600, gt=0, le=86_400)
    # Pairing guesses allowed per client address in one window.
    pairing_rate_limit: int = Field(default=10, gt=0)
    pairing_rate_window_s: float = Field(default=60.0, gt=0)
    # Every pairing attempt, from anywhere, per window: bounds guessing by a distributed attacker.
    pairing_global_rate_limit: int = Field(default=300, gt=0)
    # Job submissions per API key per minute, so one tenant's runaway till cannot starve others.
    job_submit_rate_limit: int = Field(default=3000, gt=0)
    # Renders (GET /v1/print-jobs/{id}/render, POST /v1/render) per credential per minute: a
    # PNG costs ~4 ms of CPU in a small thread pool, so one leaked key must not hold it.
    render_rate_limit: int = Field(default=120, gt=0)
    # Submissions one process works on at once; past it a submission is refused at once with
    # 503 + Retry-After (overload degrades to refusals a POS retries, not to 10 s waits).
    max_submissions_in_flight: int = Field(default=64, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    job_default_expires_in_s: int = Field(default=900, gt=0)
    # How long a process trusts a secret it looked up without asking the database again.
    # Revocation evicts at once (locally, and in other processes over the control bus); this
    # bounds a process that missed the bus message. 0: look every request up.
    auth_cache_ttl_s: float = Field(default=10.0, ge=0, le=300)
    # On PostgreSQL, submission, claim and report each run as one SQL statement over asyncpg
    # (the job and its history event together). Off: the general SQLAlchemy path (as on SQLite).
    hot_path: bool = True
    # The server's address as printers and browsers reach it (``https://print.example.com``),
    # for the URLs it hands out (a CloudPRNT printer's server_url). Unset: the request's own.
    public_url: str | None = None
    # CloudPRNT requests (polls, fetches, confirmations) per printer per minute. A printer
    # polls every 1-60 s (5 s by default) and at once on a status change; past this: 429.
    cloudprnt_rate_limit: int = Field(default=240, gt=0)
    # Owner lock of a bridge socket; the bridge's heartbeat (every 30 s) renews it.
    owner_lock_ttl_s: float = Field(default=60.0, gt=0)
    # Browser origins allowed to open sockets (web bridges, POS pages); comma-separated.
    # Unset: any origin in development, same-origin only otherwise. Non-browser clients
    # (the agent) send no Origin and are not affected.
    socket_allowed_origins: str | None = None
    # Engine.IO pings: a socket that stops answering (half-open) is dropped within
    # interval + timeout, its owner lock released and its jobs offered to the next owner.
    socket_ping_interval_s: float = Field(default=25.0, gt=0)
    socket_ping_timeout_s: float = Field(default=20.0, gt=0)
    # A request head (request line and headers) must arrive within this from its first byte (or
    # from the connection's opening): slow-loris connections are closed instead of holding a
    # descriptor each (app/serving.py). Bodies, responses and keep-alive waits are not counted.
    request_head_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Largest Socket.IO message accepted; every event of the protocol is a few hundred bytes.
    socket_max_message_bytes: int = Field(default=64 * 1024, gt=0)
    # Per socket: events handled at once, more waiting their turn (by size), and events a
    # second (bursts up to the burst). Past them an event is answered rate_limited; a socket that
    # goes on a burst past that is disconnected. A bridge sends two events per job.
    socket_events_in_flight: int = Field(default=8, gt=0)
    socket_events_queued_bytes: int = Field(default=256 * 1024, ge=0)
    socket_event_rate_per_s: float = Field(default=500.0, gt=0)
    socket_event_burst: int = Field(default=1000, gt=0)
    # `text` (default) or `json`: one JSON object a line, uvicorn's lines included.
    log_format: LogFormat = LogFormat.TEXT
    # What the application's loggers (printrelay.*, app.*) print; uvicorn's own follow
    # `printrelay serve --log-level`. `warning` drops the line per job (three per printed job).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The line per job change (submitted, claimed, reported, swept: three per printed job, with
    # its ids). Unset: on with the json format (written without a log record there, ~3.5 us a
    # line), off with text, where nobody parses them and each would be a record (~7 us;
    # docs/benchmarks.md, issue 23). Device lines stay.
    log_job_events: bool | None = None
    # Set: GET /metrics needs `Authorization: Bearer <this>`. Unset: /metrics is open (keep it
    # off the public network then; docs/operations.md).
    metrics_token: str | None = None

    def job_event_lines(self) -> bool:
        """Whether each job change is logged (``PRINTRELAY_LOG_JOB_EVENTS``)."""
        if self.log_job_events is not None:
            return self.log_job_events
        return self.log_format is LogFormat.JSON

    # Webhooks (app.webhooks): receivers on private, loopback or link-local addresses are
    # refused unless this is true. Retries back off from base, doubling, to the cap, until
    # max age; each delivery waits at most timeout for an answer.
    webhook_allow_private: bool = False
    webhook_backoff_base_s: float = Field(default=1.0, gt=0)
    webhook_backoff_cap_s: float = Field(default=3600.0, gt=0)
    webhook_max_age_s: float = Field(default=86_400.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    # How often each process looks for deliveries that are due.
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    # A PEM file of CA certificates that https receivers may also chain to (a private CA),
    # besides the public ones (certifi's bundle). The name in the URL is what is verified.
    webhook_ca_file: Path | None = None
    # Fernet keys that encrypt webhook signing secrets at rest (app/secret_box.py), comma-
    # separated: the first encrypts, all decrypt. Unset outside development: no webhook can be
    # created (503) and a stored encrypted secret cannot sign (docs/operations.md).
    encryption_keys: SecretStr | None = None

    def secret_box(self) -> SecretBox | None:
        """The keys of ``PRINTRELAY_ENCRYPTION_KEYS`` (None when unset); ConfigError when one
        is not a Fernet key."""
        if self.encryption_keys is None:
            return None
        try:
            return SecretBox.from_setting(self.encryption_keys.get_secret_value())
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def socket_origins(self) -> str | list[str] | None:
        if self.socket_allowed_origins:
            return [o.strip() for o in self.socket_allowed_origins.split(",") if o.strip()]
        return "*" if self.env is Environment.DEVELOPMENT else None

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _blank_is_unset(self) -> Settings:
        if self.redis_url == "":
            self.redis_url = None
        if self.admin_token == "":
            self.admin_token = None
        if self.public_url == "":
            self.public_url = None
        if self.metrics_token == "":
            self.metrics_token = None
        if self.encryption_keys is not None and not self.encryption_keys.get_secret_value():
            self.encryption_keys = None
        if self.redis_url is not None:
            check_redis_url(self.redis_url)
        return self

    @cached_property
    def async_database_url(self) -> str:
        return normalize_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    def check_startable(self) -> None:
        """Refuse to start a non-development server without a real admin token, and any
        server with an encryption key that is not one or a CA file that cannot be read."""
        self.secret_box()
        if self.webhook_ca_file is not None and not self.webhook_ca_file.is_file():
            raise ConfigError(f"PRINTRELAY_WEBHOOK_CA_FILE: no file at {self.webhook_ca_file}")
        if self.env is Environment.DEVELOPMENT:
            return
        token = self.admin_token or ""
        if len(token) < MIN_ADMIN_TOKEN_CHARS or token.lower() in PLACEHOLDER_ADMIN_TOKENS:
            raise ConfigError(
                "PRINTRELAY_ADMIN_TOKEN must be set to a random secret of at least "
                f"{MIN_ADMIN_TOKEN_CHARS} characters (for example: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                "or set PRINTRELAY_ENV=development for a local server."
            )
