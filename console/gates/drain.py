"""The job side of the gate: close it before a sleep and wait for in-flight requests.

``console.jobs.sleepwake.sleep_instance`` calls ``close_and_drain`` before it moves the instance to
``falling_asleep``: from then on the gateway holds new requests, and the engine is put to
sleep only when none is in flight (vLLM <=0.16 crashes when a request in flight takes a
step during sleep, vLLM #28714; 0.17+ would abort it). There is no explicit reopening
after the wake: the gateway opens a gate once the instance is awake in a later stretch
than the one the gate was closed in (``scripts.REOPEN_STALE``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from redis import Redis
from redis.exceptions import RedisError

from console import critical
from console.gates import redis_keys, scripts
from console.gates.config import GatewayConfig
from console.models import Instance

_POLL_SECONDS = 0.05
# How long a sleep waits for Redis to answer again (a restart takes about a second).
REDIS_PATIENCE_SECONDS = 5.0
_REDIS_RETRY_SECONDS = 0.2
# A closed gate outlives the drain by this much: by then the instance has left ``awake``
# (the gateway sees that within a second) or the sleep was abandoned.
_GATE_MARGIN_SECONDS = 120


class DrainRefusedError(Exception):
    """The gate could not be closed and drained: the sleep must not go ahead (says why)."""


@lru_cache(maxsize=4)
def sync_redis(url: str) -> Redis:
    return Redis.from_url(url)


def _episode(instance_id: int) -> int:
    changed = Instance.objects.values_list("state_changed_at", flat=True).get(pk=instance_id)
    return int(changed.timestamp() * 1_000_000)


def close_gate(
    redis: Redis, prefix: str, instance_id: int, expire_seconds: int, seen: datetime | None = None
) -> str:
    """Close the gate for the instance's current awake stretch; returns the closing token.

    ``seen``: the row's ``state_changed_at`` as the caller read it, which saves reading it
    first (it is read once after the close all the same).
    The closing expires: a sleep abandoned between the close and its move to
    ``falling_asleep`` (its worker killed) must not hold the model's requests for ever.
    """
    nonce = secrets.token_hex(8)
    known = None if seen is None else int(seen.timestamp() * 1_000_000)
    while True:
        episode = known if known is not None else _episode(instance_id)
        known = None
        token = f"{episode}:{nonce}"
        redis.set(redis_keys.gate(prefix, instance_id), token, ex=expire_seconds)
        # The row moved between the read and the close (a reconcile correction): close
        # again for the new stretch, or a web process would judge this closing stale.
        if _episode(instance_id) == episode:
            return token


def inflight_count(redis: Redis, prefix: str, instance_id: int) -> int:
    return int(redis.eval(scripts.COUNT_INFLIGHT, 1, redis_keys.inflight(prefix, instance_id)))


@contextmanager
def probe_admitted(
    instance_id: int, awake_since: datetime, lease_seconds: float = 60.0
) -> Iterator[bool]:
    """Whether the console may send the engine a request of its own now (True while no
    sleep and no other request is in flight; ``awake_since`` is the row's
    ``state_changed_at``, against which a gate left closed by the last sleep is stale),
    marked in flight like a gateway request for as long as the block runs, so that a sleep
    starting meanwhile waits for it: vLLM <=0.16 dies when a request takes a step during a
    sleep (vLLM #28714)."""
    config = GatewayConfig.from_settings()
    redis = sync_redis(config.redis_url)
    inflight = redis_keys.inflight(config.redis_prefix, instance_id)
    gate = redis_keys.gate(config.redis_prefix, instance_id)
    probe_id = f"console-probe:{secrets.token_hex(8)}"
    episode = int(awake_since.timestamp() * 1_000_000)
    admitted = bool(
        redis.eval(scripts.ADMIT_PROBE, 2, gate, inflight, probe_id, lease_seconds, episode)
    )
    try:
        yield admitted
    finally:
        if admitted:
            redis.zrem(inflight, probe_id)


def close_and_drain(instance: Instance, config: GatewayConfig | None = None) -> None:
    """Hold new requests, wait for in-flight ones; refuse the sleep if they do not finish.

    Without Redis the gateway cannot hold requests, nor say which are in flight: a Redis
    that does not answer for a few seconds (longer than a restart) refuses the sleep.
    """
    config = config or GatewayConfig.from_settings()
    redis = sync_redis(config.redis_url)
    patience = time.monotonic() + REDIS_PATIENCE_SECONDS
    while True:
        try:
            _close_and_drain(redis, instance, config)
            return
        except RedisError as error:
            if time.monotonic() >= patience:
                raise DrainRefusedError(
                    f"{instance.name}: the gateway's Redis does not answer "
                    f"({type(error).__name__}: {error}); requests to it cannot be held, "
                    "so it was not put to sleep"
                ) from error
            with critical.waiting():
                time.sleep(_REDIS_RETRY_SECONDS)


def _close_and_drain(redis: Redis, instance: Instance, config: GatewayConfig) -> None:
    expire = int(config.drain_seconds + _GATE_MARGIN_SECONDS)
    token = close_gate(redis, config.redis_prefix, instance.pk, expire, instance.state_changed_at)
    deadline = time.monotonic() + config.drain_seconds
    while (count := inflight_count(redis, config.redis_prefix, instance.pk)) > 0:
        if time.monotonic() >= deadline:
            redis.eval(
                scripts.OPEN_IF_MINE, 1, redis_keys.gate(config.redis_prefix, instance.pk), token
            )
            raise DrainRefusedError(
                f"{instance.name}: {count} gateway request(s) still in flight after "
                f"{config.drain_seconds:g} s; not put to sleep"
            )
        with critical.waiting():
            time.sleep(_POLL_SECONDS)
