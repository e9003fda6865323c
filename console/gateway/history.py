"""Gateway figures into the history: per-model counts per interval, and queries over them.

The web processes keep cumulative counters in Redis (``figures``). Every minute a beat
task reads them and stores the difference since the last reading as GatewaySample rows.
A counter that went down (Redis restarted, its counters lost) starts again from zero, so
its whole current value is the interval's count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncHour, TruncMinute
from redis import Redis

from console.gates import redis_keys
from console.gateway.figures import COUNTERS, read_figures
from console.models import GatewaySample

Figures = dict[str, dict[str, float]]
RETENTION = timedelta(days=400)
MAX_POINTS = 2000


def deltas(current: Figures, previous: Figures) -> Figures:
    """What happened between two readings, per model; models with nothing are left out."""
    changes: Figures = {}
    for model, counters in current.items():
        before = previous.get(model, {})
        diff = {}
        for name in COUNTERS:
            now, then = counters.get(name, 0.0), before.get(name, 0.0)
            diff[name] = now - then if now >= then else now
        if any(diff.values()):
            changes[model] = diff
    return changes


def record(now: datetime) -> int:
    """Store the interval's figures; returns how many model rows were written."""
    redis = Redis.from_url(settings.REDIS_URL)
    try:
        current = read_figures(redis, settings.REDIS_PREFIX)
        stored = redis.get(redis_keys.figures_recorded(settings.REDIS_PREFIX))
        previous: Figures = json.loads(stored) if stored else {}
        rows = [
            GatewaySample(
                at=now, model=model, held_seconds=round(diff["held_seconds"], 3),
                **{name: int(diff[name]) for name in COUNTERS if name != "held_seconds"},
            )
            for model, diff in deltas(current, previous).items()
        ]  # fmt: skip
        GatewaySample.objects.bulk_create(rows)
        redis.set(redis_keys.figures_recorded(settings.REDIS_PREFIX), json.dumps(current))
    finally:
        redis.close()
    GatewaySample.objects.filter(at__lt=now - RETENTION).delete()
    return len(rows)


@dataclass(frozen=True)
class GatewaySeries:
    """Points ``[epoch, requests, errors, held, held_seconds, wakes, rejected, dropped]``."""

    resolution: str
    points: list[list[float]]


def series(model: str | None, start: datetime, end: datetime) -> GatewaySeries:
    """Per minute when that gives at most ~2,000 points, else per hour (sums either way)."""
    per_minute = (end - start) / timedelta(minutes=1) <= MAX_POINTS
    bucket = TruncMinute("at") if per_minute else TruncHour("at")
    rows = GatewaySample.objects.filter(at__gte=start, at__lt=end)
    if model:
        rows = rows.filter(model=model)
    sums: Any = (
        rows.annotate(bucket=bucket)
        .values("bucket")
        .annotate(**{name: Sum(name) for name in COUNTERS})
        .order_by("bucket")
    )
    points = [
        [row["bucket"].timestamp(), *(float(row[name] or 0) for name in COUNTERS)] for row in sums
    ]
    return GatewaySeries("1m" if per_minute else "1h", points)
