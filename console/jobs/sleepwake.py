"""Sleep and wake one instance: state transitions, fit checks, the engine calls.

This is the critical path of every sleep, wake and switch: checks and the fit decision,
the engine call, the state transition, and for a switch the next engine call. Nothing on it
waits for evidence (the engine's log lines, memory samples, the first request's latency):
each step records when its call ran, and ``evidence.attach`` gathers the figures after the
job has ended and adds them to it.

Each function moves the instance through its transitional state with a conditional
update, so two jobs (or a job and the reconcile loop) can never both act on an engine.
When the engine call fails in a way that leaves its state in doubt, the instance becomes
``unknown`` and the reconcile loop reads the truth from the engine within seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.utils import timezone

from console.gates.drain import DrainRefusedError, close_and_drain
from console.jobs import fit, ledger, refusals
from console.jobs.capacity import engine_rss_bytes, host_ram_figures
from console.jobs.engine_calls import engine_client, remember_version, with_retries
from console.jobs.lifecycle import doubt_instance
from console.jobs.moves import move
from console.jobs.outcome import JobOutcome
from console.jobs.service import JobRefusedError
from console.models import Instance, InstanceState, transition
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
# Calls the engine refused without changing its state (OOM on wake: vLLM stays asleep).
REFUSALS = (EngineBadRequest, DevModeOff, SleepModeDisabled, WakeOutOfMemory)


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


def remember_pinned_baseline(instance: Instance) -> None:
    """Keep the engine's RSS before this process's first level-1 sleep: what it holds above
    it after the sleep is its pinned backup (``evidence.learn_pinned_backup``), which PyTorch
    keeps after the wake."""
    if instance.pinned_baseline_bytes is None:
        rss = engine_rss_bytes(instance)
        if rss is not None:
            Instance.objects.filter(pk=instance.pk, pid=instance.pid).update(
                pinned_baseline_bytes=rss
            )


def sleep_instance(
    instance: Instance, level: int, outcome: JobOutcome, host_ram: fit.Fit | None = None
) -> None:
    """``host_ram``: the level-1 backup's fit, when the caller has just judged it (a switch
    chooses its victims' level by it); judged here otherwise."""
    if level not in (1, 2):
        raise JobRefusedError(f"sleep level must be 1 or 2, not {level!r}")
    if level == 1:
        verdict = host_ram or fit.check_host_ram_fits(instance.name, host_ram_figures(instance))
        if not verdict.ok:
            raise refusals.refused(verdict)
    # Hold new /v1 requests and let those in flight finish first: vLLM <=0.16 crashes when a
    # request takes a step during a sleep (vLLM #28714).
    try:
        close_and_drain(instance)
    except DrainRefusedError as refused:
        raise JobRefusedError(str(refused)) from refused
    move(instance, {State.AWAKE}, State.FALLING_ASLEEP)
    if level == 1:
        remember_pinned_baseline(instance)
    client = engine_client(instance)
    started_at = timezone.now()
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
    remember_version(instance, client)
    outcome.add_call_step("sleep", instance, started_at, call_seconds, level=level)


def wake_instance(instance: Instance, tags: Sequence[str] | None, outcome: JobOutcome) -> None:
    if tags is not None and (not tags or not set(tags) <= ALL_TAGS):
        raise JobRefusedError(f"wake tags must be among {sorted(ALL_TAGS)}, not {tags!r}")
    level = instance.sleep_level
    # The fit decision and the move to waking are one step: the ledger counts a waking
    # instance as holding its memory, so no other wake can take the same room.
    ledger.reserve(instance, {State.SLEEPING}, State.WAKING, sleep_level=None)
    wake_reserved(instance, level, tags, outcome)


def wake_reserved(
    instance: Instance, level: int | None, tags: Sequence[str] | None, outcome: JobOutcome
) -> None:
    """The wake of an instance already moved to ``waking`` (its room reserved), which slept
    at ``level``: the engine calls, then ``awake`` (or back to sleeping, partly awake)."""
    full = tags is None or set(tags) == ALL_TAGS
    client = engine_client(instance)
    started_at = timezone.now()
    try:
        started = time.monotonic()
        calls = with_retries(lambda: _call_wake(client, level, tags, full))
        call_seconds = round(time.monotonic() - started, 3)
        if full:
            move(instance, {State.WAKING}, State.AWAKE, state_detail="")
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
    remember_version(instance, client)
    outcome.add_call_step("wake", instance, started_at, call_seconds, from_level=level,
                          tags=sorted(tags) if tags else None, calls=calls)  # fmt: skip


def _call_wake(
    client: EngineClient, level: int | None, tags: Sequence[str] | None, full: bool
) -> dict[str, float] | None:
    """The wake's engine calls; for a level-2 wake, the seconds of each of its calls."""
    if level == 2 and full:
        # Level 2 dropped the weights: without reload_weights the engine serves garbage
        # and logs nothing (vLLM #29341, #54235).
        return client.wake_level2()
    client.wake(list(tags) if tags is not None else None)
    if level == 2 and tags is not None and "weights" in tags:
        client.collective_rpc("reload_weights")
    if level == 2 and tags is not None and "kv_cache" in tags:
        client.reset_prefix_cache()
    return None
