"""``printrelay``: serve (migrate, then serve REST), migrate, and the encryption key's
commands (generate-encryption-key, reencrypt-secrets)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from app.config import ConfigError, Environment, Settings
from app.observability.logs import LogFormat, configure_root
from app.secret_box import KEYS_SETTING, generate_key

if TYPE_CHECKING:
    from app.webhooks.secrets import SecretsReport

# prometheus-client's multiprocess directory (read by app.observability.metrics).
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger("printrelay")

DEV_STATE_DIR = ".printrelay"
DEV_ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 (a file name)
DEV_ENCRYPTION_KEY_FILE = "encryption-key"


def _development_secret(path: Path, make: Callable[[], str]) -> str:
    """A secret kept in a file only its owner can read, made on first use."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def development_admin_token(state_dir: Path) -> str:
    """A random admin token for a local server, kept in a file only its owner can read.

    The secret is never printed: people read it from the file (``cat .printrelay/admin-token``).
    """
    return _development_secret(state_dir / DEV_ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32))


def development_encryption_key(state_dir: Path) -> str:
    """The key that encrypts a local server's webhook secrets, beside its admin token. Losing
    the file loses those secrets (recreate the webhooks); production sets the setting."""
    return _development_secret(state_dir / DEV_ENCRYPTION_KEY_FILE, generate_key)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import migrate
    from app.main import create_asgi_app
    from app.serving import uvicorn_options

    settings = Settings()
    if settings.env is Environment.DEVELOPMENT and settings.admin_token is None:
        settings.admin_token = development_admin_token(Path.cwd() / DEV_STATE_DIR)
        log.info("development admin token: see %s/%s", DEV_STATE_DIR, DEV_ADMIN_TOKEN_FILE)
    if settings.env is Environment.DEVELOPMENT and settings.encryption_keys is None:
        key = development_encryption_key(Path.cwd() / DEV_STATE_DIR)
        settings.encryption_keys = SecretStr(key)
        # Worker processes build their settings from the environment (--workers N).
        os.environ[KEYS_SETTING] = key
    try:
        settings.check_startable()
    except ConfigError as exc:
        print(f"printrelay: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.redis_url is None:
        print(
            "printrelay: more than one worker needs PRINTRELAY_REDIS_URL "
            "(locks and rooms are in-memory without it)",
            file=sys.stderr,
        )
        return 2
    migrate.upgrade(settings.database_url)
    _seal_clear_secrets(settings)
    log.info("database migrated; serving on http://%s:%d", args.host, args.port)
    if args.workers > 1:
        with shared_metrics_dir():
            return _serve_workers(args, settings)
    uvicorn.run(
        create_asgi_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        **uvicorn_options(settings),
    )
    return 0


@contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """prometheus-client's multiprocess mode for ``--workers N``: every worker writes its
    metrics under ``PROMETHEUS_MULTIPROC_DIR`` and /metrics sums them. Set before any worker
    starts (prometheus-client reads it on import). An operator's own directory is kept but
    emptied of the last run's files; otherwise a private one lives as long as the server."""
    given = os.environ.get(MULTIPROC_DIR_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="printrelay-metrics-"))
    os.environ[MULTIPROC_DIR_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.serving import uvicorn_options

    # Each worker builds its own app from the same environment; Redis joins them.
    uvicorn.run(
        "app.main:create_asgi_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        **uvicorn_options(settings),
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from app.db import migrate

    settings = Settings()
    if args.revision == "base":
        migrate.downgrade(settings.database_url, "base")
    else:
        migrate.upgrade(settings.database_url, args.revision)
    return 0


def _seal_clear_secrets(settings: Settings) -> None:
    """Once a key is set, webhook secrets stored in clear (before migration 0011) are
    encrypted; anything an operator must act on is logged."""
    from app.webhooks import secrets as webhook_secrets

    report = asyncio.run(_reseal(settings, clear_only=True))
    webhook_secrets.log_report(report)


async def _reseal(settings: Settings, *, clear_only: bool) -> SecretsReport:
    from app.db import Database
    from app.webhooks import secrets as webhook_secrets

    db = Database.from_url(settings.async_database_url)
    try:
        return await webhook_secrets.reseal(db, settings.secret_box(), clear_only=clear_only)
    finally:
        await db.dispose()


def _reencrypt_secrets(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        box = settings.secret_box()
    except ConfigError as exc:
        print(f"printrelay: {exc}", file=sys.stderr)
        return 2
    if box is None:
        print(f"printrelay: {KEYS_SETTING} is not set", file=sys.stderr)
        return 2
    report = asyncio.run(_reseal(settings, clear_only=False))
    print(
        f"webhook signing secrets: {report.resealed} encrypted with the first key "
        f"({report.clear} were in clear, {report.older_key} under an older key); "
        f"{report.current} already were"
    )
    if report.unreadable:
        print(
            f"printrelay: {len(report.unreadable)} cannot be decrypted with any key of "
            f"{KEYS_SETTING}: webhooks {', '.join(str(i) for i in report.unreadable)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _generate_encryption_key(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _log_format() -> LogFormat:
    try:
        return LogFormat(os.environ.get("PRINTRELAY_LOG_FORMAT", "text").strip().lower() or "text")
    except ValueError:
        return LogFormat.TEXT  # Settings() refuses it below, with the reason


def main(argv: list[str] | None = None) -> int:
    level = os.environ.get("PRINTRELAY_LOG_LEVEL", "info").strip().upper()
    configure_root(_log_format(), getattr(logging, level, logging.INFO))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="printrelay", description="Printrelay print-job server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate the database, then serve REST and Socket.IO")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (more than one needs Redis)"
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)
    mig = sub.add_parser("migrate", help="apply database migrations (production deploy step)")
    mig.add_argument("revision", nargs="?", default="head", help="'head' (default) or 'base'")
    mig.set_defaults(handler=_migrate)
    gen = sub.add_parser("generate-encryption-key", help=f"print a new key for {KEYS_SETTING}")
    gen.set_defaults(handler=_generate_encryption_key)
    reenc = sub.add_parser(
        "reencrypt-secrets",
        help=f"encrypt every webhook signing secret with the first key of {KEYS_SETTING}",
    )
    reenc.set_defaults(handler=_reencrypt_secrets)
    args = parser.parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
