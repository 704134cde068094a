"""How ``printrelay serve`` runs uvicorn: a deadline on request heads and a redacted access log.

uvicorn times out an idle keep-alive connection but not one that is in the middle of sending a
request head, so a client sending a header line every few seconds holds a descriptor for as
long as it likes; a few hundred of them exhaust the process (slow-loris). ``HeadTimeoutProtocol``
gives every request head ``PRINTRELAY_REQUEST_HEAD_TIMEOUT_S`` from its first byte (or from the
connection's opening) to its last, then closes the connection. It builds on uvicorn's httptools
protocol (``uvicorn[standard]`` installs httptools); its hooks are uvicorn internals, pinned in
pyproject.toml and checked by tests/unit/test_pinned_versions.py.

uvicorn's access log prints each request's path with its query string, so a secret pasted into
a URL by mistake (refused, but logged) would land in the log, and a CloudPRNT printer's URL holds
its secret by design: ``RedactSecrets`` masks API keys, device tokens, CloudPRNT secrets and the
admin token in every access-log line.
"""

from __future__ import annotations

import copy
import logging
import re
from asyncio import TimerHandle, Transport
from functools import cache
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.auth.secrets import API_KEY_PREFIX, CLOUDPRNT_SECRET_PREFIX, DEVICE_TOKEN_PREFIX
from app.config import Settings
from app.observability.logs import LogFormat, formatter_config

REDACTED = "[redacted]"
# A key or token is its prefix and token_urlsafe characters; the prefix is kept so that a
# reader of the log still sees which kind of secret was sent.
_SECRET_PREFIXES = (API_KEY_PREFIX, DEVICE_TOKEN_PREFIX, CLOUDPRNT_SECRET_PREFIX)
_PREFIXED_SECRET = re.compile("(" + "|".join(re.escape(p) for p in _SECRET_PREFIXES) + r")[\w\-]+")
# Values of query parameters that name a credential, whatever they hold.
_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;])(?:token|access_token|api_key|apikey|key|secret|password|authorization)=)"
    r"[^&;#\s\"]*",
    re.IGNORECASE,
)


@cache
def _head_timeout_s() -> float:
    # Read once per process from the environment, so that `--workers N` (whose processes
    # import this class by name) and a single process agree.
    return Settings().request_head_timeout_s


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request head is late.

    The deadline starts when the connection opens and again at the first byte of each later
    request on it; it is cancelled when the head is complete (the body, the response and the
    keep-alive wait have their own limits). One timer per request: about a microsecond.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: TimerHandle | None = None

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(_head_timeout_s(), self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()


def redact_secrets(text: str, extra: tuple[str, ...] = ()) -> str:
    """``text`` with API keys, device tokens, credential parameters and ``extra`` masked."""
    for secret in extra:
        text = text.replace(secret, REDACTED)
    # Each pattern needs its literal (a prefix, an "="): most lines have neither, and a
    # substring test is far cheaper than a regex pass (every JSON log line comes through here).
    if any(prefix in text for prefix in _SECRET_PREFIXES):
        text = _PREFIXED_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    if "=" in text:
        text = _SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's string arguments (uvicorn's access formatter unpacks them:
    client address, method, path with query, HTTP version, status)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = tuple(s for s in (secrets or []) if s)

    def redact_text(self, text: str) -> str:
        return redact_secrets(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_secrets(a, self._secrets) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg, self._secrets)
        return True


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging configuration with ``RedactSecrets`` on its access log, and the
    application's loggers on uvicorn's stderr handler (every ``--workers`` process applies it).
    With ``PRINTRELAY_LOG_FORMAT=json`` every line, uvicorn's included, is a JSON object, and
    every line (not only the access log) passes ``RedactSecrets``."""
    config = copy.deepcopy(LOGGING_CONFIG)
    secrets = [s for s in (settings.admin_token, settings.metrics_token) if s]
    config["filters"] = {"redact_secrets": {"()": "app.serving.RedactSecrets", "secrets": secrets}}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_secrets"]
    for name in ("default", "access"):  # a line per request: batched like the application's
        config["handlers"][name]["class"] = "app.observability.logs.BatchedStreamHandler"
    if settings.log_format is LogFormat.JSON:
        for name in ("default", "access"):
            config["formatters"][name] = formatter_config(LogFormat.JSON)
        # The access handler's only records come from uvicorn.access, filtered above.
        config["handlers"]["default"]["filters"] = ["redact_secrets"]
    config["formatters"]["application"] = formatter_config(settings.log_format)
    config["handlers"]["application"] = {
        "formatter": "application",
        "class": "app.observability.logs.BatchedStreamHandler",
        "stream": "ext://sys.stderr",
        "filters": ["redact_secrets"] if settings.log_format is LogFormat.JSON else [],
    }
    config["root"] = {"handlers": ["application"], "level": settings.log_level.upper()}
    if not settings.job_event_lines():
        config["loggers"]["printrelay.jobs"] = {"level": "WARNING"}
    return config


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every ``uvicorn.run`` of ``printrelay serve`` is given, one process or several."""
    return {
        "http": HeadTimeoutProtocol,
        "log_config": log_config(settings),
    }
