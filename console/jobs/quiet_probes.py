"""How often reconcile asks a stopped engine that does not answer.

Every stopped instance is asked each round, so that an engine started by hand is adopted
at once; one that stays silent (a registered engine nobody started, a host switched off)
would cost a connection attempt, up to its timeout, every few seconds for ever. So a
stopped engine is asked every round for its first ``GRACE_SECONDS`` of silence, then
about every tenth of its silence so far, at most every ``MAX_INTERVAL_SECONDS``.

The wait is a Redis key with the interval as its time to live: it holds no truth (losing
it costs one early probe), and a probe asked for on purpose (on registration) ignores it.
The key names the moment the instance became stopped, so a new stop starts afresh.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from redis.exceptions import RedisError

from console.gates.drain import sync_redis
from console.gates.redis_keys import quiet_probe
from console.models import Instance

log = logging.getLogger(__name__)

GRACE_SECONDS = 60.0
MAX_INTERVAL_SECONDS = 300.0


def interval(quiet_seconds: float, period: float) -> float:
    """Seconds until the next probe of an engine silent for ``quiet_seconds``."""
    if quiet_seconds < GRACE_SECONDS:
        return period
    return min(MAX_INTERVAL_SECONDS, max(period, quiet_seconds / 10))


def _key(instance: Instance) -> str:
    return quiet_probe(settings.REDIS_PREFIX, instance.pk, instance.state_changed_at.timestamp())


def due(instance: Instance) -> bool:
    """False while the wait after the last silent probe runs (Redis down: True)."""
    try:
        return not sync_redis(settings.REDIS_URL).exists(_key(instance))
    except RedisError as error:
        log.warning("probe backoff unavailable, asking %s: %r", instance.name, error)
        return True


def missed(instance: Instance, now: datetime) -> None:
    """The engine did not answer: wait before asking it again."""
    period = settings.CONSOLE_RECONCILE_SECONDS
    wait = interval((now - instance.state_changed_at).total_seconds(), period)
    if wait <= period:
        return  # asked again next round
    # Half a round less: the key is set after the probe, and the round it should let
    # through comes about one interval after the one that probed.
    try:
        sync_redis(settings.REDIS_URL).set(_key(instance), 1, px=int((wait - period / 2) * 1000))
    except RedisError as error:
        log.warning("probe backoff unavailable for %s: %r", instance.name, error)
