"""Instances' schedules, run by beat: wake at an awake window's start, sleep at a timed sleep.

Precedence (docs/schedules.md): requests held or in flight and ``pinned_awake`` win over a
timed sleep (it waits for them, retried every round for ``timetable.GRACE``; a pinned
instance is not put to sleep); a timed sleep wins over the idle ladder; inside an awake
window the idle ladder does nothing. A schedule acts only at its moments: an operator who
puts an instance to sleep inside its awake window is not overruled until the next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from console import audit
from console.gates import scripts
from console.gates.config import GatewayConfig
from console.gates.drain import sync_redis
from console.jobs import timetable
from console.jobs.idle import GatewayActivity, requests_waiting
from console.jobs.service import (
    ACTIVE_STATES,
    JobConflictError,
    JobRefusedError,
    JobRequest,
    request_job,
)
from console.models import Instance, InstanceSchedule, InstanceState, Job, JobKind, Outcome

log = logging.getLogger(__name__)
VIA = "schedule"


@dataclass(frozen=True)
class Step:
    """What an occurrence asks for now: a job (``kind``), nothing (done), or to wait.

    ``settles``: asking for the job handles the occurrence. A level-2 timed sleep of an
    instance asleep at level 1 first wakes it (vLLM cannot deepen a sleep, see
    ``console.jobs.idle``) and stays due, so a later round puts it to sleep at level 2.
    """

    kind: str | None = None
    params: dict[str, object] | None = None
    wait: bool = False
    settles: bool = True


WAIT = Step(wait=True)
DONE = Step()


def _wake_step(instance: Instance) -> Step:
    return Step(JobKind.WAKE, {}) if instance.state == InstanceState.SLEEPING else DONE


def _sleep_step(instance: Instance, level: int, activity: GatewayActivity) -> Step:
    if instance.pinned_awake:
        return DONE
    if instance.state == InstanceState.AWAKE:
        sleep = Step(JobKind.SLEEP, {"level": level})
        return WAIT if requests_waiting(instance, activity) else sleep
    if instance.state == InstanceState.SLEEPING and (instance.sleep_level or 1) < level:
        return Step(JobKind.WAKE, {}, settles=False)
    return DONE


def step_for(
    instance: Instance, occurrence: timetable.Occurrence, activity: GatewayActivity
) -> Step:
    if Job.objects.filter(instance=instance, state__in=ACTIVE_STATES).exists():
        return WAIT
    if occurrence.action == "wake":
        return _wake_step(instance)
    return _sleep_step(instance, occurrence.level, activity)


def _settle(schedule: InstanceSchedule, occurrence: timetable.Occurrence) -> bool:
    """Move the mark past the occurrence; False when another round already did."""
    moved = InstanceSchedule.objects.filter(
        pk=schedule.pk, handled_until=schedule.handled_until
    ).update(handled_until=occurrence.at)
    return moved == 1


def _ask(instance: Instance, kind: str, step: Step, occurrence: timetable.Occurrence) -> bool:
    """Ask for the job, audited as the schedule's; False when it was refused."""
    detail: dict[str, object] = {"via": VIA, "rule": occurrence.rule}
    try:
        job = request_job(JobRequest(instance.pk, kind, {**(step.params or {}), "via": VIA}))
    except (JobConflictError, JobRefusedError) as refused:
        log.info("schedule of %s: %s refused: %s", instance.name, kind, refused)
        audit.record(None, f"job.{kind}", Outcome.REFUSED, target=instance, actor=VIA,
                     detail={**detail, "reason": str(refused)})  # fmt: skip
        return False
    audit.record(None, f"job.{kind}", Outcome.OK, target=instance, actor=VIA,
                 detail={**detail, "job": job.pk})  # fmt: skip
    return True


def run_schedule(
    schedule: InstanceSchedule, now: datetime, activity: GatewayActivity
) -> str | None:
    """Act on the schedule's due occurrence, if any; the job asked for, for the log."""
    occurrence = timetable.of(schedule).due(now, schedule.handled_until)
    if occurrence is None:
        return None
    step = step_for(schedule.instance, occurrence, activity)
    if step.wait or (step.settles and not _settle(schedule, occurrence)) or step.kind is None:
        return None
    if not _ask(schedule.instance, step.kind, step, occurrence):
        if not step.settles:  # the wake before a deeper sleep was refused: give that up
            _settle(schedule, occurrence)
        return None
    return f"{schedule.instance.name}: {step.kind} ({occurrence.rule})"


def activity_now(config: GatewayConfig) -> GatewayActivity:
    """The gateway's marks, read against Redis's clock (as the idle ladder reads them)."""
    redis = sync_redis(config.redis_url)
    return GatewayActivity(redis, config.redis_prefix, float(redis.eval(scripts.NOW, 0)))


def run_schedules(now: datetime, config: GatewayConfig | None = None) -> list[str]:
    """One beat round over every instance with a schedule; returns what it asked for."""
    activity = activity_now(config or GatewayConfig.from_settings())
    schedules = InstanceSchedule.objects.select_related("instance")
    asked = [run_schedule(schedule, now, activity) for schedule in schedules]
    return [line for line in asked if line]
