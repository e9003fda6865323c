"""Sleep and wake one instance: state transitions, fit checks, the engine calls, figures.

Each function moves the instance through its transitional state with a conditional
update, so two jobs (or a job and the reconcile loop) can never both act on an engine.
When the engine call fails in a way that leaves its state in doubt, the instance becomes
``unknown`` and the reconcile loop reads the truth from the engine within seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from console.gateway.drain import close_and_drain
from console.jobs import evidence, fit
from console.jobs.capacity import (
    engine_rss_bytes,
    gpu_memory,
    host_ram_figures,
    need_per_gpu_bytes,
    weights_bytes,
)
from console.jobs.engine import engine_client, with_retries
from console.jobs.outcome import JobOutcome
from console.jobs.reconcile import doubt_instance
from console.jobs.service import JobRefusedError
from console.models import EngineEvent, Instance, InstanceState, transition
from engines.client import EngineClient
from engines.errors import (
    DevModeOff,
    EngineBadRequest,
    EngineDead,
    EngineError,
    SleepModeDisabled,
    WakeOutOfMemory,
)

State = InstanceState
ALL_TAGS = frozenset({"weights", "kv_cache"})
# Less RSS growth than this after a level-1 sleep is not taken as its pinned backup.
_LEAST_PINNED_BYTES = 256 << 20
# Calls the engine refused without changing its state (OOM on wake: vLLM stays asleep).
REFUSALS = (EngineBadRequest, DevModeOff, SleepModeDisabled, WakeOutOfMemory)


def move(
    instance: Instance, expected: set[InstanceState], to: InstanceState, **fields: object
) -> None:
    """Transition or refuse with the state the instance is really in."""
    if not transition(instance.pk, expected, to, **fields):
        instance.refresh_from_db(fields=["state"])
        wanted = " or ".join(sorted(expected))
        raise JobRefusedError(f"{instance.name} is {instance.state}, not {wanted}")
    instance.refresh_from_db()


def after_failed_call(instance: Instance, error: EngineError, stayed: InstanceState) -> None:
    """Where the instance is after a sleep or wake call failed.

    A refused call (bad request, dev mode off, sleep mode off) left the engine where it was;
    a dead engine is an error; anything else (timeout, lost connection) is in doubt, and
    the reconcile loop reads the engine's truth within one period.
    """
    transient = {State.FALLING_ASLEEP, State.WAKING}
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, EngineDead):
        transition(instance.pk, transient, State.ERROR, state_detail=detail)
    elif isinstance(error, REFUSALS):
        fields = {"sleep_level": instance.sleep_level} if stayed == State.SLEEPING else {}
        transition(instance.pk, transient, stayed, state_detail=detail, **fields)
    else:
        doubt_instance(instance.pk, f"engine call failed: {detail}")


def remember_pinned_baseline(instance: Instance) -> int | None:
    """The engine's RSS before this process's first level-1 sleep (read and kept now if
    this is that sleep), against which what it pins, and keeps after the wake, is measured."""
    if instance.pinned_baseline_bytes is None:
        rss = engine_rss_bytes(instance)
        if rss is not None:
            Instance.objects.filter(pk=instance.pk, pid=instance.pid).update(
                pinned_baseline_bytes=rss
            )
        return rss
    return instance.pinned_baseline_bytes


def learn_pinned_backup(instance: Instance, baseline: int, slept: datetime) -> float | None:
    """What the backup pinned (GiB): the engine's RSS after the sleep above its baseline,
    kept for the next fit checks (a relaunch of the same model pins the same)."""
    rss = evidence.engine_rss_after(instance, after=slept)
    if rss is None:
        return None
    pinned = rss - baseline
    # Sanity: a backup the RSS does not show (a sample from before it, an odd process
    # tree) is not learned; the estimate stays.
    if pinned < max(weights_bytes(instance) // 2, _LEAST_PINNED_BYTES):
        return None
    Instance.objects.filter(pk=instance.pk, pid=instance.pid).update(pinned_backup_bytes=pinned)
    return round(pinned / fit.GIB, 2)


def sleep_instance(instance: Instance, level: int, outcome: JobOutcome) -> None:
    if level not in (1, 2):
        raise JobRefusedError(f"sleep level must be 1 or 2, not {level!r}")
    if level == 1:
        verdict = fit.check_host_ram_fits(instance.name, host_ram_figures(instance))
        if not verdict.ok:
            raise JobRefusedError(verdict.reason)
    # Gateway (issue 6): hold new /v1 requests and let those in flight finish first.
    close_and_drain(instance)
    move(instance, {State.AWAKE}, State.FALLING_ASLEEP)
    baseline = remember_pinned_baseline(instance) if level == 1 else None
    since = timezone.now()
    before = evidence.gpu_used_bytes(instance)
    client = engine_client(instance)
    try:
        started = time.monotonic()
        with_retries(lambda: client.sleep(level))
        call_seconds = round(time.monotonic() - started, 3)
    except EngineError as error:
        after_failed_call(instance, error, stayed=State.AWAKE)
        raise
    finally:
        client.close()
    move(instance, {State.FALLING_ASLEEP}, State.SLEEPING, sleep_level=level, state_detail="")
    slept = timezone.now()
    events = evidence.wait_for_events(instance, since, "sleep", evidence.SLEEP_EVENTS)
    figures = sleep_figures(events)
    pinned_gib = learn_pinned_backup(instance, baseline, slept) if baseline is not None else None
    after = evidence.gpu_used_bytes(instance, after=timezone.now())
    outcome.add_step("sleep", instance.name, level=level, call_seconds=call_seconds,
                     pinned_gib=pinned_gib, **figures)  # fmt: skip
    _merge(outcome, figures, before, after, evidence.excerpt(events))


def wake_instance(instance: Instance, tags: Sequence[str] | None, outcome: JobOutcome) -> None:
    if tags is not None and (not tags or not set(tags) <= ALL_TAGS):
        raise JobRefusedError(f"wake tags must be among {sorted(ALL_TAGS)}, not {tags!r}")
    verdict = fit.check_wake_fits(instance.name, need_per_gpu_bytes(instance), gpu_memory(instance))
    if not verdict.ok:
        raise JobRefusedError(verdict.reason)
    level = instance.sleep_level
    move(instance, {State.SLEEPING}, State.WAKING, sleep_level=None)
    since = timezone.now()
    before = evidence.gpu_used_bytes(instance)
    full = tags is None or set(tags) == ALL_TAGS
    client = engine_client(instance)
    try:
        started = time.monotonic()
        with_retries(lambda: _call_wake(client, level, tags, full))
        call_seconds = round(time.monotonic() - started, 3)
        if full:
            move(instance, {State.WAKING}, State.AWAKE, state_detail="")
            # The first request after a wake is what users wait for: measure it.
            outcome.first_request_seconds = round(client.warmup(), 3)
        else:
            awake = ", ".join(sorted(tags or ()))
            move(instance, {State.WAKING}, State.SLEEPING, sleep_level=level,
                 state_detail=f"partly awake: {awake}")  # fmt: skip
    except EngineError as error:
        instance.sleep_level = level
        after_failed_call(instance, error, stayed=State.SLEEPING)
        raise
    finally:
        client.close()
    events = evidence.wait_for_events(instance, since, "wake", evidence.WAKE_EVENTS)
    seconds = wake_seconds(events)
    after = evidence.gpu_used_bytes(instance, after=timezone.now())
    outcome.add_step(
        "wake",
        instance.name,
        tags=sorted(tags) if tags else None,
        engine_seconds=seconds,
        call_seconds=call_seconds,
    )
    _merge(outcome, {"engine_seconds": seconds}, before, after, evidence.excerpt(events))


def _call_wake(
    client: EngineClient, level: int | None, tags: Sequence[str] | None, full: bool
) -> None:
    if level == 2 and full:
        # Level 2 dropped the weights: without reload_weights the engine serves garbage
        # and logs nothing (vLLM #29341, #54235).
        client.wake_level2()
        return
    client.wake(list(tags) if tags is not None else None)
    if level == 2 and tags is not None and "weights" in tags:
        client.collective_rpc("reload_weights")
    if level == 2 and tags is not None and "kv_cache" in tags:
        client.reset_prefix_cache()


def sleep_figures(events: Sequence[EngineEvent]) -> dict[str, float | None]:
    """Engine seconds and GiB from a sleep's log lines; every TP worker prints its own.

    Freed GiB come from the CuMem line (0.11+: freed, backed up, discarded) when present,
    else from "Sleep mode freed" (which also gives what is still in use). Workers' figures
    add up; the seconds are the slowest worker's.
    """
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event.data or {})

    def total(kind: str, key: str) -> float | None:
        values = [float(d[key]) for d in by_kind.get(kind, []) if d.get(key) is not None]
        return round(sum(values), 3) if values else None

    seconds = [float(d["seconds"]) for d in by_kind.get("sleep", []) if d.get("seconds")]
    freed = total("cumem_freed", "freed_gib")
    return {
        "engine_seconds": max(seconds) if seconds else None,
        "freed_gib": freed if freed is not None else total("sleep_freed", "freed_gib"),
        "backed_up_gib": total("cumem_freed", "backed_up_gib"),
        "still_in_use_gib": total("sleep_freed", "still_in_use_gib"),
    }


def wake_seconds(events: Sequence[EngineEvent]) -> float | None:
    """The slowest worker's wake time; a level-2 wake prints one line per tag: they add."""
    per_process: dict[str, float] = {}
    for event in events:
        data = event.data or {}
        if event.kind == "wake" and data.get("seconds") is not None:
            key = str(data.get("pid") or data.get("process") or "")
            per_process[key] = per_process.get(key, 0.0) + float(data["seconds"])
    return round(max(per_process.values()), 3) if per_process else None


def _merge(
    outcome: JobOutcome,
    figures: dict[str, float | None],
    before: int | None,
    after: int | None,
    log_excerpt: str,
) -> None:
    """Fold one step's figures into the job's: seconds and GiB add up over a switch's steps."""
    for key, value in figures.items():
        if value is not None:
            setattr(outcome, key, round((getattr(outcome, key) or 0.0) + value, 3))
    if outcome.gpu_used_before_bytes is None:
        outcome.gpu_used_before_bytes = before
    outcome.gpu_used_after_bytes = after
    outcome.log_excerpt = "\n".join(filter(None, [outcome.log_excerpt, log_excerpt]))[-4000:]
