"""The sender's retry delays."""

from __future__ import annotations

from app.config import Settings


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    from app.webhooks.sender import WebhookSender

    settings = Settings(webhook_backoff_base_s=1, webhook_backoff_cap_s=3600)
    sender = WebhookSender(db=None, settings=settings)  # type: ignore[arg-type]
    assert [sender.backoff_s(n) for n in (1, 2, 3, 4, 12, 13, 500)] == [
        1,
        2,
        4,
        8,
        2048,
        3600,
        3600,
    ]
