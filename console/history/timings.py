"""Sleep and wake timings of one instance, with each wake's efficiency against the link.

A level-1 wake copies the weights that its sleep backed up from pinned host RAM to the
GPU, so its efficiency is ``backed-up bytes / (engine seconds x link bandwidth)``: 1.0 is
the link's limit (a 0.11.0 H100 wake of 75.16 GiB in 1.54 s is ~52 GB/s). A level-2 wake
reloads weights from disk: no link efficiency is given for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypedDict

from django.conf import settings

from console.models import Job, JobKind, JobState

GIB = 1 << 30
KINDS = (JobKind.SLEEP, JobKind.WAKE)


class Timing(TypedDict):
    """One finished sleep or wake job as the timings chart and CSV show it."""

    job_id: int
    kind: str
    level: int | None
    at: str
    engine_seconds: float | None
    wall_seconds: float | None
    freed_gib: float | None
    backed_up_gib: float | None
    first_request_seconds: float | None
    wake_efficiency: float | None


def efficiency(moved_gib: float | None, seconds: float | None, link_gbps: float) -> float | None:
    if not moved_gib or not seconds or seconds <= 0:
        return None
    return round(moved_gib * GIB / (seconds * link_gbps * 1e9), 3)


def timings(instance_id: int, start: datetime, end: datetime) -> list[Timing]:
    jobs = Job.objects.filter(
        instance_id=instance_id, kind__in=KINDS, state=JobState.SUCCEEDED,
        finished_at__gte=start, finished_at__lt=end,
    ).order_by("finished_at", "id")  # fmt: skip
    return list(_with_levels(jobs, _sleep_before(instance_id, start)))


def _sleep_before(instance_id: int, start: datetime) -> Job | None:
    """The sleep that a wake at the start of the range woke from."""
    return (
        Job.objects.filter(
            instance_id=instance_id, kind=JobKind.SLEEP, state=JobState.SUCCEEDED,
            finished_at__lt=start,
        ).order_by("-finished_at", "-id").first()
    )  # fmt: skip


def _with_levels(jobs: Iterable[Job], last_sleep: Job | None) -> Iterable[Timing]:
    link = settings.CONSOLE_LINK_GBPS
    for job in jobs:
        if job.kind == JobKind.SLEEP:
            last_sleep = job
        level = _level(last_sleep)
        moved = last_sleep.backed_up_gib if last_sleep is not None and level == 1 else None
        wake = job.kind == JobKind.WAKE
        yield {
            "job_id": job.pk, "kind": job.kind, "level": level,
            "at": (job.finished_at or job.created_at).isoformat(),
            "engine_seconds": job.engine_seconds, "wall_seconds": job.wall_seconds,
            "freed_gib": job.freed_gib, "backed_up_gib": job.backed_up_gib,
            "first_request_seconds": job.first_request_seconds,
            "wake_efficiency": efficiency(moved, job.engine_seconds, link) if wake else None,
        }  # fmt: skip


def _level(sleep: Job | None) -> int | None:
    level = (sleep.params or {}).get("level", 1) if sleep is not None else None
    return int(level) if isinstance(level, int | str) and str(level) in {"1", "2"} else None
