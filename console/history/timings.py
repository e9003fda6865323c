"""Sleep and wake timings of one instance, with each wake's efficiency against the link.

An instance sleeps and wakes in its own sleep and wake jobs, and as a step of a switch:
its own switch (the gateway's wakes on request are switches too) or another instance's
that put it to sleep to make room. Every one of those steps is a timing here, saying
which job it came from (``via``: the job's kind, or ``gateway``).

A level-1 wake copies the weights that its sleep backed up from pinned host RAM to the
GPU, so its efficiency is ``backed-up bytes / (engine seconds x link bandwidth)``: 1.0 is
the link's limit (a 0.11.0 H100 wake of 75.16 GiB in 1.54 s is ~52 GB/s). A level-2 wake
reloads weights from disk: no link efficiency is given for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Q

from console.models import Job, JobKind, JobState

GIB = 1 << 30
# Switches looked back through for the sleep a wake at the start of the range woke from.
SWITCHES_BEFORE = 50


class Timing(TypedDict):
    """One finished sleep or wake (a job, or a switch's step) as the chart and CSV show it."""

    job_id: int
    kind: str
    via: str
    level: int | None
    at: str
    engine_seconds: float | None
    wall_seconds: float | None
    freed_gib: float | None
    backed_up_gib: float | None
    first_request_seconds: float | None
    wake_efficiency: float | None


@dataclass(frozen=True)
class Step:
    """A sleep or wake of the instance, before its wake efficiency is known."""

    job: Job
    kind: str
    at: datetime
    level: int | None
    figures: dict[str, Any]


def efficiency(moved_gib: float | None, seconds: float | None, link_gbps: float) -> float | None:
    if not moved_gib or not seconds or seconds <= 0:
        return None
    return round(moved_gib * GIB / (seconds * link_gbps * 1e9), 3)


def timings(instance_id: int, start: datetime, end: datetime) -> list[Timing]:
    window = Q(finished_at__gte=start, finished_at__lt=end)
    steps = sorted(_steps(instance_id, _finished(instance_id, window)), key=_order)
    return list(_with_efficiency(steps, _sleep_before(instance_id, start)))


def _finished(instance_id: int, window: Q) -> Iterable[Job]:
    """Succeeded sleeps and wakes of the instance, and every succeeded switch in the window
    (a switch's steps name their instances inside its JSON: filtered here, not in SQL)."""
    own = Q(instance_id=instance_id, kind__in=(JobKind.SLEEP, JobKind.WAKE))
    return Job.objects.filter(window, own | Q(kind=JobKind.SWITCH), state=JobState.SUCCEEDED)


def _order(step: Step) -> tuple[datetime, int]:
    return step.at, step.job.pk


def _steps(instance_id: int, jobs: Iterable[Job]) -> Iterator[Step]:
    for job in jobs:
        if job.kind == JobKind.SWITCH:
            yield from _switch_steps(instance_id, job)
        else:
            yield _job_step(job)


def _job_step(job: Job) -> Step:
    figures = {
        "engine_seconds": job.engine_seconds, "wall_seconds": job.wall_seconds,
        "freed_gib": job.freed_gib, "backed_up_gib": job.backed_up_gib,
        "first_request_seconds": job.first_request_seconds,
    }  # fmt: skip
    at = job.finished_at or job.created_at
    # A sleep asked for without a level is a level-1 sleep; a wake's is its sleep's.
    level = _level((job.params or {}).get("level", 1)) if job.kind == JobKind.SLEEP else None
    return Step(job, job.kind, at, level, figures)


def _switch_steps(instance_id: int, job: Job) -> Iterator[Step]:
    for step in (job.outcome_detail or {}).get("steps") or []:
        if step.get("instance_id") != instance_id or step.get("step") not in {"sleep", "wake"}:
            continue
        figures = {
            "engine_seconds": step.get("engine_seconds"), "wall_seconds": step.get("call_seconds"),
            "freed_gib": step.get("freed_gib"), "backed_up_gib": step.get("backed_up_gib"),
            "first_request_seconds": step.get("first_request_seconds"),
        }  # fmt: skip
        at = _moment(step.get("call_ended_at")) or job.finished_at or job.created_at
        level = _level(step.get("level") if step["step"] == "sleep" else step.get("from_level"))
        yield Step(job, step["step"], at, level, figures)


def _sleep_before(instance_id: int, start: datetime) -> Step | None:
    """The sleep that a wake at the start of the range woke from: its own, or a switch's."""
    before = Q(finished_at__lt=start, state=JobState.SUCCEEDED)
    own = Job.objects.filter(before, instance_id=instance_id, kind=JobKind.SLEEP)
    last_own = own.order_by("-finished_at", "-id").first()
    switches = Job.objects.filter(before, kind=JobKind.SWITCH).order_by("-finished_at", "-id")
    if last_own is not None:
        switches = switches.filter(finished_at__gt=last_own.finished_at)
    candidates = [_job_step(last_own)] if last_own is not None else []
    for switch in switches[:SWITCHES_BEFORE]:
        candidates.extend(s for s in _switch_steps(instance_id, switch) if s.kind == "sleep")
    return max(candidates, key=_order, default=None)


def _with_efficiency(steps: Iterable[Step], last_sleep: Step | None) -> Iterator[Timing]:
    link = settings.CONSOLE_LINK_GBPS
    for step in steps:
        if step.kind == "sleep":
            last_sleep = step
        level = step.level if step.kind == "sleep" or step.level else _sleep_level(last_sleep)
        backed_up = last_sleep.figures["backed_up_gib"] if last_sleep is not None else None
        moved = backed_up if level == 1 else None
        seconds, figures = step.figures["engine_seconds"], step.figures
        yield {
            "job_id": step.job.pk, "kind": step.kind, "via": _via(step.job), "level": level,
            "at": step.at.isoformat(), "engine_seconds": seconds,
            "wall_seconds": figures["wall_seconds"], "freed_gib": figures["freed_gib"],
            "backed_up_gib": figures["backed_up_gib"],
            "first_request_seconds": figures["first_request_seconds"],
            "wake_efficiency": efficiency(moved, seconds, link) if step.kind == "wake" else None,
        }  # fmt: skip


def _sleep_level(sleep: Step | None) -> int | None:
    return sleep.level if sleep is not None else None


def _via(job: Job) -> str:
    return "gateway" if (job.params or {}).get("via") == "gateway" else str(job.kind)


def _level(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value) in {"1", "2"} else None


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
