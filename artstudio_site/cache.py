"""Django's Redis cache, with a Redis outage turned into cache misses.

The cache holds rate-limit counters and cached previews, nothing that must
not be lost. When Redis is down or slow, answering every request with a 500
would turn a cache outage into a site outage, so each operation degrades
instead: reads miss, writes are dropped, and ``incr`` reports the key as
missing (the documented ``ValueError``), which the rate limiters treat as the
first request of a window. Requests are therefore let through un-limited
while Redis is away, and a warning is logged (at most every 30 s per process).
"""

from __future__ import annotations

import logging
import time
from functools import wraps

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger("artstudio_site.cache")

_WARN_EVERY = 30.0
_last_warning = 0.0


def _warn(operation: str, exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY:
        _last_warning = now
        logger.warning("cache %s failed, carrying on without it: %s", operation, exc)


def _degrade(fallback):
    """Run a client method; on a Redis error return ``fallback(*args)``."""

    def decorator(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except RedisError as exc:
                _warn(method.__name__, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorator


def _missing_key(key, *args, **kwargs):
    raise ValueError(f"Key {key!r} not found (cache unavailable).")


class ResilientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        """One ``redis.Redis`` per connection pool, kept: Django builds a new
        one for every operation, and building one (its table of ~250
        response callbacks) cost more than the round trip it made. A client
        is safe to share between threads, and its pool reconnects after a
        fork."""
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client

    add = _degrade(lambda *a, **k: False)(RedisCacheClient.add)
    get = _degrade(lambda key, default: default)(RedisCacheClient.get)
    set = _degrade(lambda *a, **k: None)(RedisCacheClient.set)
    touch = _degrade(lambda *a, **k: False)(RedisCacheClient.touch)
    delete = _degrade(lambda *a, **k: False)(RedisCacheClient.delete)
    get_many = _degrade(lambda *a, **k: {})(RedisCacheClient.get_many)
    has_key = _degrade(lambda *a, **k: False)(RedisCacheClient.has_key)
    incr = _degrade(_missing_key)(RedisCacheClient.incr)
    set_many = _degrade(lambda *a, **k: [])(RedisCacheClient.set_many)
    delete_many = _degrade(lambda *a, **k: None)(RedisCacheClient.delete_many)
    clear = _degrade(lambda *a, **k: False)(RedisCacheClient.clear)


class ResilientRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that survives outages."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ResilientRedisCacheClient

    def count(self, key, timeout: int) -> int | None:
        """Add one to the counter ``key``, which lives ``timeout`` seconds
        from its first count; return the new count, or None when Redis
        cannot be reached. One round trip (SET NX and INCR in a transaction),
        where ``add`` + ``incr`` took three and could lose the key between
        them."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        try:
            with client.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=timeout, nx=True)
                pipe.incr(key)
                return int(pipe.execute()[1])
        except RedisError as exc:
            _warn("count", exc)
            return None
