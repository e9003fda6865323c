"""Gateway figures per model, as counters in Redis that the dashboard and history read.

Counters: ``requests`` (answered by an engine), ``errors`` (engine 5xx, unreachable or
timed out), ``held`` (requests that had to wait), ``held_seconds`` (their total wait),
``wakes_on_request`` (switch jobs the gateway asked for), ``rejected`` (503: over the
hold cap, hold timeout, model not running), ``dropped`` (clients gone while held).
"""

from __future__ import annotations

from django.conf import settings
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from console.gates import redis_keys

COUNTERS = ("requests", "errors", "held", "held_seconds", "wakes_on_request", "rejected",
            "dropped")  # fmt: skip


class Tally:
    """Counters added in memory on the hot path, written to Redis in one pipeline per flush.

    The web process flushes about once a second (and at shutdown), so a request costs no
    Redis round trip for its figures.
    """

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, float]] = {}

    def add(self, model: str, **counts: float) -> None:
        """``tally.add("m", requests=1, held_seconds=0.4)``."""
        unknown = set(counts) - set(COUNTERS)
        if unknown:
            raise ValueError(f"unknown gateway counters: {sorted(unknown)}")
        bucket = self.pending.setdefault(model, {})
        for name, value in counts.items():
            bucket[name] = bucket.get(name, 0.0) + value

    async def flush(self, redis: AsyncRedis, prefix: str) -> None:
        pending, self.pending = self.pending, {}
        if not pending:
            return
        pipe = redis.pipeline(transaction=False)
        for model, counts in pending.items():
            pipe.sadd(redis_keys.figures_index(prefix), model)
            for name, value in counts.items():
                if value:
                    pipe.hincrbyfloat(redis_keys.figures(prefix, model), name, value)
        try:
            await pipe.execute()
        except RedisError:
            # Kept for the next flush (a pipeline without MULTI may have applied part of it:
            # a count may then be added twice, never lost).
            for model, counts in pending.items():
                self.add(model, **counts)
            raise


def read_figures(redis: Redis, prefix: str) -> dict[str, dict[str, float]]:
    """Every model's counters, zeros included: ``{"model": {"requests": 12.0, ...}}``."""
    models = sorted(_text(m) for m in redis.smembers(redis_keys.figures_index(prefix)))
    result: dict[str, dict[str, float]] = {}
    for model in models:
        raw = redis.hgetall(redis_keys.figures(prefix, model))
        values = {_text(k): float(v) for k, v in raw.items()}
        result[model] = {name: values.get(name, 0.0) for name in COUNTERS}
    return result


def gateway_figures() -> dict[str, dict[str, float]]:
    """``read_figures`` on the console's Redis: what the dashboard and history show."""
    redis = Redis.from_url(settings.REDIS_URL)
    try:
        return read_figures(redis, settings.REDIS_PREFIX)
    finally:
        redis.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
