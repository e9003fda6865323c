"""Rollups (raw -> 1 minute -> 1 hour, min/avg/max) and retention, run by a beat task.

Each run aggregates the complete buckets after the last one already rolled up (the
"watermark"), at most ``max_window`` of source rows at a time so that a console that was
down for a day catches up over a few runs instead of one long transaction. Retention never
deletes rows that were not rolled up yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Max, Min

from console.history.resolution import ORDER, STEP_SECONDS, retention
from console.models import MemorySample, Resolution

# Agents write a tick's samples a moment after their timestamp: leave the newest bucket be.
GRACE = timedelta(seconds=5)
MAX_WINDOW: dict[Resolution, timedelta] = {
    Resolution.MINUTE: timedelta(hours=1),
    Resolution.HOUR: timedelta(days=1),
}
SOURCE: dict[Resolution, Resolution] = {
    Resolution.MINUTE: Resolution.RAW,
    Resolution.HOUR: Resolution.MINUTE,
}
Key = tuple[str, int | None, int | None, int | None, int]


def floor(at: datetime, seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def rolled_until(target: Resolution) -> datetime | None:
    """The end of the last bucket of ``target`` already written."""
    last = MemorySample.objects.filter(resolution=target).aggregate(last=Max("at"))["last"]
    return None if last is None else last + timedelta(seconds=STEP_SECONDS[target])


def _window(target: Resolution, now: datetime) -> tuple[datetime, datetime] | None:
    step = STEP_SECONDS[target]
    source = MemorySample.objects.filter(resolution=SOURCE[target])
    done = rolled_until(target)
    if done is not None:
        source = source.filter(at__gte=done)
    first = source.aggregate(first=Min("at"))["first"]
    if first is None:
        return None
    start = floor(first, step)
    end = min(floor(now - GRACE, step), start + MAX_WINDOW[target])
    return (start, end) if end > start else None


@dataclass
class Bucket:
    """The source rows of one subject falling in one target bucket."""

    used: list[int] = field(default_factory=list)
    low: int | None = None
    high: int | None = None
    total: int | None = None
    extras: list[dict[str, object]] = field(default_factory=list)


def rollup(target: Resolution, now: datetime) -> int:
    """Write the next complete buckets of ``target``; returns the number of rows written."""
    window = _window(target, now)
    if window is None:
        return 0
    step = STEP_SECONDS[target]
    rows = MemorySample.objects.filter(
        resolution=SOURCE[target], at__gte=window[0], at__lt=window[1]
    ).values_list(
        "subject", "host_id", "gpu_id", "instance_id", "at", "used_bytes", "total_bytes",
        "min_used_bytes", "max_used_bytes", "extra",
    )  # fmt: skip
    buckets: dict[Key, Bucket] = defaultdict(Bucket)
    for subject, host, gpu, instance, at, used, total, low, high, extra in rows.iterator():
        epoch = int(at.timestamp())
        bucket = buckets[(subject, host, gpu, instance, epoch - epoch % step)]
        bucket.used.append(used)
        bucket.low = min(x for x in (bucket.low, low, used) if x is not None)
        bucket.high = max(x for x in (bucket.high, high, used) if x is not None)
        bucket.total = total if total is not None else bucket.total
        bucket.extras.append(extra or {})
    MemorySample.objects.bulk_create(_row(target, key, bucket) for key, bucket in buckets.items())
    return len(buckets)


def _row(target: Resolution, key: Key, bucket: Bucket) -> MemorySample:
    subject, host, gpu, instance, epoch = key
    return MemorySample(
        at=datetime.fromtimestamp(epoch, tz=UTC), resolution=target, subject=subject,
        host_id=host, gpu_id=gpu, instance_id=instance,
        used_bytes=round(sum(bucket.used) / len(bucket.used)), total_bytes=bucket.total,
        min_used_bytes=bucket.low, max_used_bytes=bucket.high, extra=mean_extra(bucket.extras),
    )  # fmt: skip


def mean_extra(extras: list[dict[str, object]]) -> dict[str, object]:
    """Numbers averaged over the samples that have them; maps of numbers (bytes per process)
    averaged over all samples, an absent key counting 0. Percentiles are averaged too: a
    rollup's ``ttft_p95`` is the mean of its intervals' p95, an approximation."""
    numbers: dict[str, list[float]] = defaultdict(list)
    maps: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for extra in extras:
        for key, value in extra.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                numbers[key].append(float(value))
            elif isinstance(value, dict):
                for name, amount in value.items():
                    if isinstance(amount, int | float):
                        maps[key][str(name)] += amount
    merged: dict[str, object] = {k: sum(v) / len(v) for k, v in numbers.items()}
    merged.update({k: {n: round(a / len(extras)) for n, a in m.items()} for k, m in maps.items()})
    return merged


def purge(now: datetime) -> dict[str, int]:
    """Delete rows past their retention; raw and minute rows only once rolled up."""
    deleted: dict[str, int] = {}
    for resolution in ORDER:
        cutoff = now - retention(resolution)
        coarser = _coarser(resolution)
        if coarser is not None:
            done = rolled_until(coarser)
            if done is None:
                continue
            cutoff = min(cutoff, done)
        count, _ = MemorySample.objects.filter(resolution=resolution, at__lt=cutoff).delete()
        deleted[resolution] = count
    return deleted


def _coarser(resolution: Resolution) -> Resolution | None:
    index = ORDER.index(resolution)
    return ORDER[index + 1] if index + 1 < len(ORDER) else None


def maintain(now: datetime) -> dict[str, int]:
    """One beat run: roll up what is complete (minutes first: hours read them), then purge."""
    written = {f"rolled_{target}": rollup(target, now) for target in SOURCE}
    return written | {f"deleted_{res}": count for res, count in purge(now).items()}
