"""Redis counters for alerts: each rule's hourly rate limit, and one-shot debouncing.

Counters, not truth: a lost Redis at worst lets a few extra alerts through.
"""

from __future__ import annotations

import logging

from django.conf import settings
from redis import Redis, RedisError

log = logging.getLogger(__name__)

HOUR = 3600


def _redis() -> Redis:
    # Short timeouts: the agent's one-second tick asks too, and must not stall on Redis.
    return Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def rule_key(rule_id: int, hour: int) -> str:
    return f"{settings.REDIS_PREFIX}alerts:rate:{rule_id}:{hour}"


def take(rule_id: int, per_hour: int) -> bool:
    """Count one delivery for the rule in this clock hour; False when over ``per_hour``."""
    redis = _redis()
    try:
        hour = int(redis.time()[0]) // HOUR  # Redis' clock: one window for every worker
        key = rule_key(rule_id, hour)
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, HOUR * 2)
            count = int(pipe.execute()[0])
    finally:
        redis.close()
    return count <= per_hour


def first_time(name: str, quiet_seconds: float) -> bool:
    """True once per ``name`` until ``quiet_seconds`` have passed (SET NX with expiry).

    False when Redis cannot be asked: the broker is down too, so no alert could leave.
    """
    redis = _redis()
    try:
        key = f"{settings.REDIS_PREFIX}alerts:once:{name}"
        return bool(redis.set(key, "1", nx=True, ex=max(1, round(quiet_seconds))))
    except RedisError as error:
        log.warning("alert %s not checked: Redis: %r", name, error)
        return False
    finally:
        redis.close()
