"""The reconcile loop: the engine is the truth about itself; correct the rows that disagree.

Every few seconds (a beat task) each instance that should be running is asked for
``/health`` and its sleep state. The sleep state comes from the ``vllm:engine_sleep_state``
metric where the version has it (0.11.1+), because polling ``/is_sleeping`` writes an INFO
line to the engine's log on every call in 0.8-0.17. Instances with a job in progress are
left to their job; jobs stuck in ``running`` past their time limit are failed here.

``stopped`` instances are asked too: an engine registered by URL (adopted: the
console did not launch it) starts ``stopped`` and becomes awake or sleeping as soon as it
answers, with its version read and its served model checked. One that does not answer
stays ``stopped``, which is all ``stopped`` means, for a launched or an adopted engine
alike: nothing answers at its URL and the console knows of no reason one should; one
silent for long is asked less often (``quiet_probes``). An engine that stops answering
once seen is an ``error``, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from console.jobs import quiet_probes
from console.jobs.engine_calls import engine_client
from console.jobs.lifecycle import terminate
from console.jobs.service import HOST_KINDS
from console.models import (
    EngineEvent,
    Instance,
    InstanceState,
    Job,
    JobState,
    transition,
)
from engines.errors import EngineError, UnsupportedByVersion
from engines.metrics import SleepState
from engines.versions import features

log = logging.getLogger(__name__)

State = InstanceState
WATCHED = [State.STOPPED, State.AWAKE, State.SLEEPING, State.ERROR, State.UNKNOWN]
# Where a row that lost track of its engine, or never saw it, comes from: the served model
# is checked before such a row follows what the engine says.
UNTRACKED = {State.STOPPED, State.ERROR, State.UNKNOWN}
AGENT_LOST = "the host's agent restarted while this job ran; the engine's state is being re-read"
WORKER_LOST = "the worker running this job was lost; the instance's state is being re-read"
LEVEL_OF = {SleepState.WEIGHTS_OFFLOADED: 1, SleepState.DISCARD_ALL: 2}


@dataclass(frozen=True)
class Observed:
    """What the engine said: awake or asleep (and at which level, when it tells)."""

    asleep: bool
    level: int | None
    version: str
    models: tuple[str, ...] | None = None


def observe(instance: Instance, with_models: bool = False) -> Observed:
    client = engine_client(instance)
    try:
        client.health()
        version = client.version()
        models = tuple(client.models()) if with_models else None
        if features(version).has_sleep_state_metric:
            state = client.metrics().sleep_state
            if state is not None:
                asleep = state != SleepState.AWAKE
                return Observed(asleep, LEVEL_OF.get(state), str(version), models)
        return Observed(client.is_sleeping(), None, str(version), models)
    finally:
        client.close()


def wrong_model(instance: Instance, seen: Observed) -> str | None:
    """Why the engine at this URL is not the one registered, or None when it is."""
    if seen.models is None or instance.served_model_name in seen.models:
        return None
    served = ", ".join(seen.models) or "no model"
    return (
        f"the engine at {instance.base_url} serves {served}, not {instance.served_model_name}: "
        "correct the instance's served model name (or its URL)"
    )


def reconcile_instance(instance: Instance) -> str | None:
    """Correct one instance; returns what changed (for the log), or None."""
    try:
        seen = observe(instance, with_models=instance.state in UNTRACKED)
    except UnsupportedByVersion:
        return None  # 0.7.x has no /is_sleeping: nothing to compare with
    except EngineError as error:
        if instance.state == State.STOPPED:
            quiet_probes.missed(instance, timezone.now())
            return None  # nothing answers: stopped is what the row already says
        return _unreachable(instance, error)
    Instance.objects.filter(pk=instance.pk).update(
        last_seen=timezone.now(), vllm_version=seen.version
    )
    mismatch = wrong_model(instance, seen)
    if mismatch is not None:
        return _misregistered(instance, mismatch)
    observed = State.SLEEPING if seen.asleep else State.AWAKE
    if instance.state == observed and (
        not seen.asleep or seen.level in (None, instance.sleep_level)
    ):
        return None
    # An unknown level is taken as 2: its wake reloads the weights, which is always correct.
    level = (seen.level or instance.sleep_level or 2) if seen.asleep else None
    fields = {"sleep_level": level} if level else {}
    if not transition(
        instance.pk, {InstanceState(instance.state)}, observed, state_detail="", **fields
    ):
        return None
    message = f"console had {instance.state}, engine reports {observed}" + (
        f" (level {level})" if level else ""
    )
    EngineEvent.objects.create(instance=instance, kind="state_corrected", message=message)
    return message


def _unreachable(instance: Instance, error: EngineError) -> str | None:
    if instance.state == State.ERROR:
        return None
    detail = f"engine not answering: {error}"
    if not transition(
        instance.pk, {InstanceState(instance.state)}, State.ERROR, state_detail=detail
    ):
        return None
    EngineEvent.objects.create(instance=instance, kind="engine_unreachable", message=detail)
    return detail


def _misregistered(instance: Instance, detail: str) -> str | None:
    if instance.state == State.ERROR:
        if instance.state_detail == detail:
            return None
        moved = Instance.objects.filter(pk=instance.pk, state=State.ERROR).update(
            state_detail=detail
        )
    else:
        moved = transition(
            instance.pk, {InstanceState(instance.state)}, State.ERROR, state_detail=detail
        )
    if not moved:
        return None
    EngineEvent.objects.create(instance=instance, kind="wrong_model", message=detail)
    return detail


def fail_stuck_jobs(limits: dict[str, int]) -> int:
    """Jobs still ``running`` well past their hard limit lost their worker: fail them."""
    now = timezone.now()
    failed = 0
    for kind, seconds in limits.items():
        stuck = Job.objects.filter(
            kind=kind, state=JobState.RUNNING, started_at__lt=now - timedelta(seconds=seconds + 60)
        )
        for job_id in list(stuck.values_list("pk", flat=True)):
            failed += terminate(job_id, JobState.FAILED, "the job exceeded its time limit",
                                doubt="a job exceeded its time limit")  # fmt: skip
    return failed


def fail_lost_host_jobs(host_id: int) -> int:
    """At an agent's start: its host's launch and stop jobs still ``running`` lost their runner.

    One agent serves a host's queue, so nothing else can be running them; their Celery
    messages come back only after the broker's visibility timeout (an hour), and ``claim``
    then finds them failed: the engine is never sent the same launch twice.
    """
    lost = Job.objects.filter(instance__host_id=host_id, kind__in=HOST_KINDS)
    return _fail_lost(lost, AGENT_LOST)


def fail_lost_control_jobs(active_task_ids: Collection[str], before: datetime) -> int:
    """At a control worker's start: fail the jobs no live worker is running.

    ``active_task_ids`` are the tasks every answering worker was executing, asked after
    ``before``; a job claimed before then and not among them lost its worker.
    """
    lost = (
        Job.objects.exclude(kind__in=HOST_KINDS)
        .exclude(celery_task_id__in=list(active_task_ids))
        .filter(started_at__lt=before)
    )
    return _fail_lost(lost, WORKER_LOST)


def _fail_lost(jobs: QuerySet[Job], why: str) -> int:
    running = jobs.filter(state=JobState.RUNNING).values_list("pk", flat=True)
    return sum(terminate(job_id, JobState.FAILED, why, doubt=why) for job_id in list(running))


def _idle_watched() -> QuerySet[Instance]:
    busy = Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).values("instance_id")
    return Instance.objects.filter(state__in=WATCHED).exclude(pk__in=busy)


def reconcile_one(instance_id: int) -> str | None:
    """One instance at once (a newly registered engine is probed on commit rather than at
    the next round, so its page shows its state at once), unless a job is moving it."""
    instance = _idle_watched().filter(pk=instance_id).first()
    if instance is None:
        return None
    change = reconcile_instance(instance)
    if change:
        log.info("reconcile %s: %s", instance.name, change)
    return change


def reconcile_all() -> list[str]:
    changes = []
    for instance in _idle_watched():
        if instance.state == State.STOPPED and not quiet_probes.due(instance):
            continue
        change = reconcile_instance(instance)
        if change:
            log.info("reconcile %s: %s", instance.name, change)
            changes.append(f"{instance.name}: {change}")
    return changes
