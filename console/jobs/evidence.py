"""Evidence for a job: the engine's log events and the GPU samples around an action.

The agent on the GPU host follows the engine's log and samples NVML every second, writing
EngineEvent and MemorySample rows; a job running on another machine reads them here. The
engine prints "It took X seconds to fall asleep" before it answers the HTTP call, but the
agent sees the line up to one poll later, so the job waits a little for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Max

from console.models import EngineEvent, Instance, MemorySample, Resolution, Subject

# Parsed log events that belong to a sleep or a wake.
SLEEP_EVENTS = ("sleep", "cumem_freed", "sleep_freed")
WAKE_EVENTS = ("wake", "wake_oom")


def wait_for_events(
    instance: Instance, since: datetime, final_kind: str, kinds: Iterable[str]
) -> list[EngineEvent]:
    """Events of ``kinds`` logged since ``since``; waits until one of ``final_kind`` shows up.

    Only instances whose log the console follows (launched by it) can have events; for the
    others the list is empty at once.
    """
    wanted = tuple(kinds)
    if not instance.log_path:
        return []
    deadline = time.monotonic() + settings.CONSOLE_JOB_EVIDENCE_WAIT
    while True:
        events = list(
            EngineEvent.objects.filter(instance=instance, at__gte=since, kind__in=wanted).order_by(
                "at", "pk"
            )
        )
        if any(event.kind == final_kind for event in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def gpu_used_bytes(instance: Instance, after: datetime | None = None) -> int | None:
    """Memory used on the instance's GPUs, from each GPU's newest sample (after ``after``).

    With ``after`` it waits up to the evidence window for a sample taken after it, so a
    job's "after" figure shows the memory the action freed or took.
    """
    gpu_ids = list(instance.gpus.values_list("pk", flat=True))
    if not gpu_ids:
        return None
    deadline = time.monotonic() + settings.CONSOLE_JOB_EVIDENCE_WAIT
    while True:
        total = _newest_gpu_total(gpu_ids, after)
        if total is not None or after is None or time.monotonic() > deadline:
            return total
        time.sleep(0.1)


def engine_rss_after(instance: Instance, after: datetime) -> int | None:
    """The engine's RSS in the agent's first sample taken after ``after`` (waits up to the
    evidence window for it; None for an engine the agent does not sample)."""
    deadline = time.monotonic() + settings.CONSOLE_JOB_EVIDENCE_WAIT
    while True:
        sample = (
            MemorySample.objects.filter(
                subject=Subject.INSTANCE, instance=instance, resolution=Resolution.RAW,
                at__gt=after,
            )
            .order_by("at")
            .first()
        )  # fmt: skip
        if sample is not None or time.monotonic() > deadline:
            return sample.used_bytes if sample is not None else None
        time.sleep(0.1)


def _newest_gpu_total(gpu_ids: list[int], after: datetime | None) -> int | None:
    samples = MemorySample.objects.filter(gpu_id__in=gpu_ids, resolution=Resolution.RAW)
    if after is not None:
        samples = samples.filter(at__gt=after)
    newest = samples.values("gpu_id").annotate(latest=Max("at"))
    if len(newest) < len(gpu_ids):
        return None
    total = 0
    for row in newest:
        sample = samples.filter(gpu_id=row["gpu_id"], at=row["latest"]).first()
        if sample is None:
            return None
        total += sample.used_bytes
    return total


def excerpt(events: list[EngineEvent]) -> str:
    return "\n".join(event.message for event in events)[-4000:]
