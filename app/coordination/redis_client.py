"""The coordination client (owner locks, control bus, rate limits, watch registry) for
``PRINTRELAY_REDIS_URL``: a plain Redis URL, or a Sentinel one.

``redis+sentinel://[user:password@]host1:26379,host2:26379/DB/SERVICE`` names the sentinels,
the database and the monitored master's name: python-socketio's Redis manager (the socket.io
rooms) reads the same URL with the parser used here (``socketio.redis_manager.
parse_redis_sentinel_url``), so both clients follow the same master through a failover. The
credentials are the master's; the sentinels are asked without them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from socketio.redis_manager import parse_redis_sentinel_url

SENTINEL_SCHEME = "redis+sentinel"


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The master's connections through Sentinel, waiting for a free one past the maximum as
    ``BlockingConnectionPool`` does (a burst of disconnecting bridges queues, not fails)."""


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """(sentinels, service name, master connection options); ValueError saying what is wrong."""
    try:
        sentinels, service, options = parse_redis_sentinel_url(url)
    except ValueError as exc:
        raise ValueError(
            "PRINTRELAY_REDIS_URL: a Sentinel URL is "
            "redis+sentinel://[user:password@]host:port[,host:port...]/DB/SERVICE"
        ) from exc
    if not service:
        raise ValueError(
            "PRINTRELAY_REDIS_URL: name the Sentinel service after the database: "
            "redis+sentinel://host:26379/0/mymaster"
        )
    return sentinels, service, options


def redis_client(url: str, max_connections: int, wait_s: float) -> Redis:
    """A client that owns its pool (``aclose()`` disconnects it)."""
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait_s)
        return Redis.from_pool(pool)
    sentinels, service, options = parse_sentinel_url(url)
    sentinel = Sentinel(sentinels)
    client: Redis = sentinel.master_for(  # owns its pool, as from_pool above
        service,
        connection_pool_class=BlockingSentinelPool,
        max_connections=max_connections,
        timeout=wait_s,
        **options,
    )
    return client
