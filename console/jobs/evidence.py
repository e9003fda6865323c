"""Evidence for a job, gathered after it ended: the engine's log events and the samples
around each of its engine calls, added to the job row when they arrive.

The agent on the GPU host follows the engine's log and samples NVML every second, writing
EngineEvent and MemorySample rows; the engine prints "It took X seconds to fall asleep"
before it answers the HTTP call, but the agent sees the line up to one poll later. Waiting
for that on the critical path made every switch a second or two slower than its engines,
so a job ends when its engine work is done, and ``attach`` (run by a worker right after)
waits for each step's evidence up to ``CONSOLE_JOB_EVIDENCE_WAIT`` after its call ended,
then writes the figures on the job and publishes it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from console.gates.drain import probe_admitted
from console.jobs.capacity import weights_bytes
from console.jobs.engine_calls import engine_client
from console.jobs.fit import GIB
from console.models import (
    EngineEvent,
    Instance,
    InstanceState,
    Job,
    MemorySample,
    Resolution,
    Subject,
)
from console.realtime import notify
from engines.errors import EngineError
from engines.logparser import (
    SLEEP_KINDS,
    WAKE_KINDS,
    EngineLogEvent,
    EventKind,
    SleepFigures,
    WakeFigures,
    sleep_figures,
    wake_figures,
    woke_kv_cache,
)

# Less RSS growth than this after a level-1 sleep is not taken as its pinned backup.
_LEAST_PINNED_BYTES = 256 << 20
_POLL_SECONDS = 0.05
# The figures each step contributes to the job's own columns (they add up over a switch).
_SUMMED = ("engine_seconds", "freed_gib", "backed_up_gib")


def deadline_after(ended: datetime) -> float:
    """The monotonic time until which evidence of a call that ended at ``ended`` is awaited."""
    waited = (timezone.now() - ended).total_seconds()
    return time.monotonic() + max(0.0, settings.CONSOLE_JOB_EVIDENCE_WAIT - waited)


def wait_for_events(
    instance: Instance,
    since: datetime,
    complete: Callable[[list[EngineLogEvent]], bool],
    kinds: Collection[EventKind],
    deadline: float,
) -> list[EngineEvent]:
    """Events of ``kinds`` logged since ``since``; waits until they are ``complete`` or
    ``deadline``. Instances whose log the console does not follow have none."""
    if not instance.log_path:
        return []
    while True:
        rows = list(
            EngineEvent.objects.filter(instance=instance, at__gte=since, kind__in=kinds).order_by(
                "at", "pk"
            )
        )
        if complete(parsed(rows)) or time.monotonic() > deadline:
            return rows
        time.sleep(_POLL_SECONDS)


def parsed(rows: Iterable[EngineEvent]) -> list[EngineLogEvent]:
    """The parser's events, as the agent stored them."""
    events = (EngineLogEvent.from_json_dict(row.data or {}, row.message) for row in rows)
    return [event for event in events if event is not None]


def has(kind: EventKind) -> Callable[[list[EngineLogEvent]], bool]:
    return lambda events: any(event.event == kind for event in events)


@dataclass(frozen=True)
class Quiet:
    """When nothing but the step itself moved memory on its GPUs: the end of the job's
    previous step or of the last other job there, to the start of its next step or of the
    next other job. A sample outside shows someone else's move (back-to-back switches of
    0.85 s on the H200 read 8.9 GiB "before" where NVML had 80.2), and is not used."""

    start: datetime | None
    end: datetime | None
    # The other jobs on the step's GPUs, and when the step's call ended: one of them that
    # starts after the evidence began to be gathered ends the window too (on the H200, a
    # wake's "after" was read 0.9 s later, once the next switch had put it back to sleep).
    others: QuerySet[Job] | None = None
    ended: datetime | None = None

    def holds(self, at: datetime) -> bool:
        if self.start is not None and at < self.start:
            return False
        if self.end is not None and at > self.end:
            return False
        if self.others is None or self.ended is None or at <= self.ended:
            return True
        return not self.others.filter(started_at__gte=self.ended, started_at__lte=at).exists()


def gpu_used_bytes(
    instance: Instance,
    *,
    before: datetime | None = None,
    after: datetime | None = None,
    deadline: float = 0.0,
    quiet: Quiet = Quiet(None, None),
) -> int | None:
    """Memory used on the instance's GPUs: each GPU's newest sample taken before ``before``,
    or its first taken after ``after`` (awaited until ``deadline``); None when a GPU has
    none, or when the one it has falls outside ``quiet``."""
    gpu_ids = list(instance.gpus.values_list("pk", flat=True))
    if not gpu_ids:
        return None
    while True:
        samples = _gpu_samples(gpu_ids, before, after)
        passed = quiet.end is not None and timezone.now() > quiet.end
        if samples is not None or after is None or passed or time.monotonic() > deadline:
            break
        time.sleep(_POLL_SECONDS)
    if samples is None or not all(quiet.holds(sample.at) for sample in samples):
        return None
    return sum(sample.used_bytes for sample in samples)


def _gpu_samples(
    gpu_ids: list[int], before: datetime | None, after: datetime | None
) -> list[MemorySample] | None:
    samples = MemorySample.objects.filter(gpu_id__in=gpu_ids, resolution=Resolution.RAW)
    if before is not None:
        samples = samples.filter(at__lte=before)
    if after is not None:
        samples = samples.filter(at__gt=after)
    pick = Min("at") if after is not None else Max("at")
    picked = list(samples.values("gpu_id").annotate(chosen=pick))
    if len(picked) < len(gpu_ids):
        return None
    found = [samples.filter(gpu_id=row["gpu_id"], at=row["chosen"]).first() for row in picked]
    return [sample for sample in found if sample is not None] if all(found) else None


def quiet_windows(job: Job, steps: list[dict[str, Any]]) -> list[Quiet]:
    """Each step's ``Quiet`` window (see there)."""
    windows = []
    for index, step in enumerate(steps):
        gpu_ids = Instance.objects.filter(pk=step["instance_id"]).values_list("gpus", flat=True)
        others = Job.objects.filter(instance__gpus__in=list(gpu_ids)).exclude(pk=job.pk)
        since = datetime.fromisoformat(step["started_at"])
        ended = datetime.fromisoformat(step["call_ended_at"])
        starts = [others.filter(finished_at__lte=since).aggregate(at=Max("finished_at"))["at"]]
        ends = [others.filter(started_at__gte=ended).aggregate(at=Min("started_at"))["at"]]
        if index > 0:
            starts.append(datetime.fromisoformat(steps[index - 1]["call_ended_at"]))
        if index + 1 < len(steps):
            ends.append(datetime.fromisoformat(steps[index + 1]["started_at"]))
        windows.append(Quiet(max(filter(None, starts), default=None),
                             min(filter(None, ends), default=None), others, ended))  # fmt: skip
    return windows


def engine_rss_after(instance: Instance, after: datetime, deadline: float) -> int | None:
    """The engine's RSS in the agent's first sample taken after ``after`` (awaited until
    ``deadline``; None for an engine the agent does not sample)."""
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
        time.sleep(_POLL_SECONDS)


def learn_pinned_backup(instance: Instance, slept: datetime, deadline: float) -> float | None:
    """What a level-1 backup pinned (GiB): the engine's RSS after the sleep above its RSS
    before its first level-1 sleep, kept for the next fit checks (a relaunch of the same
    model pins the same)."""
    if instance.pinned_baseline_bytes is None:
        return None
    rss = engine_rss_after(instance, slept, deadline)
    if rss is None:
        return None
    pinned = rss - instance.pinned_baseline_bytes
    # Sanity: a backup the RSS does not show (a sample from before it, an odd process
    # tree) is not learned; the estimate stays.
    if pinned < max(weights_bytes(instance) // 2, _LEAST_PINNED_BYTES):
        return None
    Instance.objects.filter(pk=instance.pk, pid=instance.pid).update(pinned_backup_bytes=pinned)
    return round(pinned / GIB, 2)


def sleep_columns(figures: SleepFigures) -> dict[str, float | None]:
    """A sleep's figures as the job step records them."""
    return {
        "engine_seconds": figures.seconds,
        "freed_gib": figures.freed_gib,
        "backed_up_gib": figures.backed_up_gib,
        "still_in_use_gib": figures.still_in_use_gib,
    }


def wake_columns(figures: WakeFigures, step: dict[str, Any]) -> dict[str, float | None]:
    """A wake's engine seconds: its wake lines, plus ``reload_weights`` for a level-2 wake.

    The reload's own line ("Reloading and processing weights took", vLLM 0.2x: 1.93-2.09 s
    for 13.5 GiB on an H200) gives it; older versions print none, and the reload's HTTP
    call, which returns when it is done, stands in for it.
    """
    reload = figures.reload_seconds
    if reload is None:
        reload = (step.get("calls") or {}).get("reload_weights")
    seconds = figures.seconds
    if reload is not None:
        seconds = round((seconds or 0.0) + reload, 3)
    return {"engine_seconds": seconds, "reload_seconds": reload}


def first_request_seconds(instance: Instance) -> float | None:
    """The latency of a one-token completion after a full wake.

    Sent only through the gate, as the gateway's requests are: never while a sleep is under
    way (a request during a sleep kills vLLM <=0.16), never beside users' requests (the
    console's probe must not queue with them, nor be what they wait for); else None.
    """
    instance.refresh_from_db(fields=["state", "state_changed_at"])
    if instance.state != InstanceState.AWAKE:
        return None
    with probe_admitted(instance.pk, instance.state_changed_at) as admitted:
        if not admitted:
            return None
        client = engine_client(instance)
        try:
            return round(client.warmup(), 3)
        except EngineError:
            return None
        finally:
            client.close()


def step_evidence(job_id: int, step: dict[str, Any], quiet: Quiet) -> dict[str, Any]:
    """The figures of one sleep or wake step, awaited up to the evidence window; the
    events they came from are linked to the job (a switch's victim's too)."""
    instance = Instance.objects.filter(pk=step["instance_id"]).first()
    if instance is None:
        return {}
    since = datetime.fromisoformat(step["started_at"])
    ended = datetime.fromisoformat(step["call_ended_at"])
    deadline = deadline_after(ended)
    if step["step"] == "sleep":
        rows = wait_for_events(instance, since, has(EventKind.SLEEP), SLEEP_KINDS, deadline)
        found: dict[str, Any] = sleep_columns(sleep_figures(parsed(rows)))
        if step.get("level") == 1:
            found["pinned_gib"] = learn_pinned_backup(instance, ended, deadline)
    else:
        level2 = step.get("from_level") == 2 and not step.get("tags")
        done = woke_kv_cache if level2 else has(EventKind.WAKE)
        rows = wait_for_events(instance, since, done, WAKE_KINDS, deadline)
        found = wake_columns(wake_figures(parsed(rows)), step)
        if not step.get("tags"):
            found["first_request_seconds"] = first_request_seconds(instance)
    found["gpu_used_before_bytes"] = gpu_used_bytes(instance, before=since, quiet=quiet)
    found["gpu_used_after_bytes"] = gpu_used_bytes(
        instance, after=ended, deadline=deadline, quiet=quiet
    )
    found["log_excerpt"] = "\n".join(row.message for row in rows)[-4000:]
    EngineEvent.objects.filter(pk__in=[row.pk for row in rows], job=None).update(job_id=job_id)
    return found


def job_figures(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's columns from its steps: seconds and GiB add up over a switch's steps; the
    memory before is the first step's, after the last one's."""
    figures: dict[str, Any] = dict.fromkeys(_SUMMED)
    for step in steps:
        for key in _SUMMED:
            if step.get(key) is not None:
                figures[key] = round((figures[key] or 0.0) + step[key], 3)
    # vLLM's "X GiB memory is still in use" is the whole device's, other engines included
    # (vLLM 0.25, two engines on one H200: 1.84 + 1.81 GiB): the last sleep's stands.
    in_use = [
        step["still_in_use_gib"] for step in steps if step.get("still_in_use_gib") is not None
    ]
    figures["still_in_use_gib"] = in_use[-1] if in_use else None
    measured = [step for step in steps if "gpu_used_after_bytes" in step]
    if measured:
        figures["gpu_used_before_bytes"] = measured[0]["gpu_used_before_bytes"]
        figures["gpu_used_after_bytes"] = measured[-1]["gpu_used_after_bytes"]
    firsts = [s["first_request_seconds"] for s in steps if s.get("first_request_seconds")]
    figures["first_request_seconds"] = firsts[-1] if firsts else None
    excerpts = [step.pop("log_excerpt", "") for step in steps]
    figures["log_excerpt"] = "\n".join(filter(None, excerpts))[-4000:]
    return figures


def attach(job_id: int) -> None:
    """Gather the evidence of a finished job's engine calls and write it on the job."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return
    steps: list[dict[str, Any]] = list((job.outcome_detail or {}).get("steps") or [])
    calls = [step for step in steps if "call_ended_at" in step]
    for step, quiet in zip(calls, quiet_windows(job, calls), strict=True):
        step.update(step_evidence(job_id, step, quiet))
    figures = job_figures(steps)
    figures = {k: v for k, v in figures.items() if v not in (None, "") or k == "log_excerpt"}
    detail = {**(job.outcome_detail or {}), "steps": steps, "evidence": "complete"}
    Job.objects.filter(pk=job_id).update(outcome_detail=detail, **figures)
    notify.job_changed(job_id)
