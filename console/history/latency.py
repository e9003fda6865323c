"""Request latency of one instance over time: TTFT and end-to-end p50/p95 per interval.

The agent stores each scrape interval's percentiles (from histogram deltas) in the
instance samples' ``extra``. Versions or engines that export no histograms, and ranges
without requests, give no points; the answer says so instead of drawing zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from console.history.memory import samples
from console.history.resolution import choose
from console.history.sql import EpochSeconds
from console.models import Resolution, Subject

KEYS = ("ttft_p50", "ttft_p95", "e2e_p50", "e2e_p95")
LatencyPoint = tuple[int, float | None, float | None, float | None, float | None]
NO_DATA = (
    "no latency figures in this range: the engine served no requests, or its version "
    "exports no TTFT/e2e histograms"
)


@dataclass(frozen=True)
class LatencySeries:
    """Points ``[epoch, ttft_p50, ttft_p95, e2e_p50, e2e_p95]`` (seconds) and a note."""

    resolution: Resolution
    points: list[LatencyPoint]
    note: str


def latency_series(
    instance_id: int, start: datetime, end: datetime, now: datetime
) -> LatencySeries:
    choice = choose(start, end, now)
    rows = (
        samples(Subject.INSTANCE, instance_id, choice.resolution)
        .filter(at__gte=start, at__lt=end)
        .order_by("at")
        .values_list(EpochSeconds("at"), "extra")
    )
    points = [_point(at, extra) for at, extra in rows if _has_latency(extra)]
    if choice.bucket_seconds is not None:
        points = _coarsen(points, choice.bucket_seconds)
    return LatencySeries(choice.resolution, points, "" if points else NO_DATA)


def _has_latency(extra: object) -> bool:
    return isinstance(extra, dict) and any(extra.get(key) is not None for key in KEYS)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _point(at: int, extra: dict[str, object]) -> LatencyPoint:
    ttft50, ttft95, e2e50, e2e95 = (_number(extra.get(key)) for key in KEYS)
    return (at, ttft50, ttft95, e2e50, e2e95)


def _coarsen(points: list[LatencyPoint], width: int) -> list[LatencyPoint]:
    """Wider buckets: the mean of the p50s and the worst p95."""
    grouped: dict[int, list[LatencyPoint]] = {}
    for point in points:
        grouped.setdefault(point[0] - point[0] % width, []).append(point)
    return [(at, *_merge(group)) for at, group in grouped.items()]


def _merge(
    group: list[LatencyPoint],
) -> tuple[float | None, float | None, float | None, float | None]:
    def column(index: int) -> list[float]:
        return [value for point in group if (value := point[index]) is not None]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return (
        mean(column(1)),
        max(column(2), default=None),
        mean(column(3)),
        max(column(4), default=None),
    )
