"""Per-key usage moved from Redis to the database (a beat task), and read back from it.

The web processes add their counts to one Redis hash (``usage.pending_key``). Each
drain claims it by renaming it (atomic: counts added meanwhile start a new hash), adds
its counts to the hour's ``KeyUsage`` rows, then deletes it. A claimed hash that a drain
could not finish (database down, worker killed) is claimed again by the next drain, so
counts are not lost; one finished in the database but not deleted is counted twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from redis import Redis
from redis.exceptions import ResponseError

from console.gateway.history import RETENTION
from console.gateway.usage import USAGE_COUNTERS, pending_key
from console.models.gateway import InferenceKey, KeyUsage

Counts = dict[tuple[int, int, str], dict[str, float]]


def claimed_key(prefix: str, claim: str) -> str:
    return f"{prefix}gw:usage:claimed:{claim}"


def drain() -> int:
    """Move every count waiting in Redis to the database, then drop the rows older than
    the history keeps; returns the rows touched."""
    KeyUsage.objects.filter(hour__lt=timezone.now() - RETENTION).delete()
    redis = Redis.from_url(settings.REDIS_URL)
    prefix = settings.REDIS_PREFIX
    try:
        leftovers = list(redis.scan_iter(claimed_key(prefix, "*")))
        touched = 0
        for source in [*leftovers, pending_key(prefix)]:
            claim = claimed_key(prefix, uuid.uuid4().hex)
            try:
                redis.rename(source, claim)
            except ResponseError:  # nothing waiting, or another drain claimed it first
                continue
            touched += store(parse(redis.hgetall(claim)))
            redis.delete(claim)
        return touched
    finally:
        redis.close()


def parse(fields: dict[bytes | str, bytes | str]) -> Counts:
    counts: Counts = {}
    for raw, value in fields.items():
        hour, key_id, model, name = json.loads(raw)
        bucket = counts.setdefault((int(hour), int(key_id), str(model)), {})
        bucket[name] = bucket.get(name, 0.0) + float(value)
    return counts


@transaction.atomic
def store(counts: Counts) -> int:
    known = set(InferenceKey.objects.filter(pk__in={k for _, k, _ in counts}).values_list(
        "pk", flat=True))  # fmt: skip
    touched = 0
    for (hour, key_id, model), values in counts.items():
        if key_id not in known:
            continue  # a key deleted since: its usage went with it
        at = datetime.fromtimestamp(hour, tz=UTC)
        row, _ = KeyUsage.objects.get_or_create(key_id=key_id, model=model, hour=at)
        additions: dict[str, Any] = {
            name: F(name) + (value if name == "held_seconds" else round(value))
            for name, value in values.items()
            if name in USAGE_COUNTERS
        }
        KeyUsage.objects.filter(pk=row.pk).update(**additions)
        touched += 1
    return touched


def usage_rows(
    start: datetime, end: datetime, per: str, key_id: int | None, model: str | None
) -> QuerySet[KeyUsage, dict[str, Any]]:
    """Sums per ``per`` ("hour" or "day"), key and model, oldest first."""
    rows = KeyUsage.objects.filter(hour__gte=start, hour__lt=end)
    if key_id is not None:
        rows = rows.filter(key_id=key_id)
    if model:
        rows = rows.filter(model=model)
    bucket = TruncDay("hour") if per == "day" else TruncHour("hour")
    return (
        rows.annotate(period=bucket)
        .values("period", "key_id", "key__name", "model")
        .annotate(**{name: Sum(name) for name in USAGE_COUNTERS})
        .order_by("period", "key__name", "model")
    )


def totals() -> Iterable[dict[str, Any]]:
    """All-time sums per key name and model: what ``/metrics`` exports."""
    return (
        KeyUsage.objects.values("key_id", "key__name", "model")
        .annotate(**{name: Sum(name) for name in USAGE_COUNTERS})
        .order_by("key__name", "key_id", "model")
    )
