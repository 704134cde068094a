"""Webhook signing secrets at rest: what state they are in, sealing and re-encrypting them.

Run by ``printrelay serve`` at start (clear secrets from before migration 0011 are sealed once
a key is set) and by ``printrelay reencrypt-secrets`` (every secret under the first key, the
last step of a key rotation), in one transaction with the rows locked. Never logs or returns
a secret.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from app.db import Database, Tx
from app.secret_box import KEYS_SETTING, SecretBox, SecretUnavailable, is_sealed
from app.webhooks import repository

log = logging.getLogger(__name__)


@dataclass
class SecretsReport:
    clear: int = 0  # stored in clear (before migration 0011)
    current: int = 0  # sealed with the first key
    older_key: int = 0  # sealed with another configured key
    sealed: int = 0  # sealed, no key configured to tell which
    unreadable: list[uuid.UUID] = field(default_factory=list)  # no configured key opens them
    resealed: int = 0  # written again under the first key by this run


async def reseal(db: Database, box: SecretBox | None, *, clear_only: bool) -> SecretsReport:
    """Survey every stored secret; with a key, seal the clear ones and (unless ``clear_only``)
    re-encrypt those under an older key with the first one."""
    async with db.transaction() as tx:
        return await _reseal(tx, box, clear_only=clear_only)


async def _reseal(tx: Tx, box: SecretBox | None, *, clear_only: bool) -> SecretsReport:
    report = SecretsReport()
    for endpoint_id, stored in await repository.all_secrets_for_update(tx):
        if box is None:
            if is_sealed(stored):
                report.sealed += 1
            else:
                report.clear += 1
            continue
        if box.is_current(stored):
            report.current += 1
            continue
        try:
            new = box.reseal(stored)
        except SecretUnavailable:
            report.unreadable.append(endpoint_id)
            continue
        if is_sealed(stored):
            report.older_key += 1
            if clear_only:
                continue
        else:
            report.clear += 1
        await repository.set_secret(tx, endpoint_id, new)
        report.resealed += 1
    return report


def log_report(report: SecretsReport) -> None:
    """At start: say what an operator must act on."""
    if report.resealed:
        log.info("webhook signing secrets: %d encrypted with the first key", report.resealed)
    if report.unreadable:
        log.error(
            "webhook signing secrets: %d cannot be decrypted with any key of %s (their "
            "deliveries fail until the key that encrypted them is back): webhooks %s",
            len(report.unreadable),
            KEYS_SETTING,
            ", ".join(str(i) for i in report.unreadable[:20]),
        )
    if report.sealed:
        log.error(
            "webhook signing secrets: %d are encrypted and %s is not set: their deliveries "
            "fail until it is",
            report.sealed,
            KEYS_SETTING,
        )
    if report.clear and report.resealed < report.clear:
        log.warning(
            "webhook signing secrets: %d stored in clear; set %s to encrypt them",
            report.clear - report.resealed,
            KEYS_SETTING,
        )
