"""Memory history of one GPU, host or instance: ``[epoch, avg, min, max]`` points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Avg, F, Max, Min, QuerySet
from django.db.models.functions import Coalesce

from console.history.resolution import Choice, choose
from console.history.sql import EpochSeconds
from console.models import MemorySample, Resolution, Subject

Point = tuple[int, float, int, int]
SUBJECT_KEY = {Subject.GPU: "gpu_id", Subject.HOST: "host_id", Subject.INSTANCE: "instance_id"}


@dataclass(frozen=True)
class Series:
    """Points in time order and the stored resolution they were read from."""

    resolution: Resolution
    points: list[Point]


def samples(subject: Subject, subject_id: int, resolution: Resolution) -> QuerySet[MemorySample]:
    """The rows of one subject at one resolution (GPU rows also carry their host: filter both)."""
    return MemorySample.objects.filter(
        subject=subject, resolution=resolution, **{SUBJECT_KEY[subject]: subject_id}
    )


def memory_series(
    subject: Subject, subject_id: int, start: datetime, end: datetime, now: datetime
) -> Series:
    choice = choose(start, end, now)
    rows = samples(subject, subject_id, choice.resolution).filter(at__gte=start, at__lt=end)
    return Series(choice.resolution, _points(rows, choice))


def _points(rows: QuerySet[MemorySample], choice: Choice) -> list[Point]:
    low = Coalesce("min_used_bytes", "used_bytes")
    high = Coalesce("max_used_bytes", "used_bytes")
    if choice.bucket_seconds is None:
        stored = rows.order_by("at").values_list(EpochSeconds("at"), "used_bytes", low, high)
        return [(at, float(used), lo, hi) for at, used, lo, hi in stored]
    # Too many rows even at the coarsest resolution kept: average them again in the database.
    width = choice.bucket_seconds
    buckets = (
        rows.annotate(bucket=EpochSeconds("at") / width * width)
        .values("bucket")
        .annotate(avg=Avg(F("used_bytes")), low=Min(low), high=Max(high))
        .order_by("bucket")
        .values_list("bucket", "avg", "low", "high")
    )
    return [(bucket, float(avg), lo, hi) for bucket, avg, lo, hi in buckets]
