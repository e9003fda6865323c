"""The idle policy: sleep instances nobody asked for, after T1 at level 1 and T2 at level 2.

Activity is the gateway's last request (or held request) for the instance, kept in Redis;
the engine's ``/metrics`` and ``/health`` scrapes never count. An instance also counts as
active for T1 from the moment it became awake (a fresh wake is not idle).

The ladder, per instance (``idle_sleep_l1_seconds`` = T1, ``idle_sleep_l2_seconds`` = T2):

- awake and idle for T1 -> sleep level 1; with T1 off, awake and idle for T2 -> level 2;
- asleep at level 1 for T2 more -> level 2. vLLM cannot deepen a sleep: ``/sleep`` on a
  sleeping engine only logs "Executor is already sleeping." (vllm 0.11.0
  ``executor_base.py:182``). So the policy wakes it (a wake job, refused without harm when
  the GPUs are full) with a "deepen" mark, and the next round puts it to sleep at level 2
  unless a request came in meanwhile;
- ``pinned_awake`` instances never sleep; instances with a job, requests in flight or
  held requests are left alone this round;
- instances inside an awake window of their schedule (``console.jobs.timetable``) are left
  alone: the window wins over the ladder (docs/schedules.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone
from redis import Redis

from console.gates import redis_keys, scripts
from console.gates.config import GatewayConfig
from console.gates.drain import inflight_count, sync_redis
from console.jobs.service import (
    ACTIVE_STATES,
    JobConflictError,
    JobRefusedError,
    JobRequest,
    request_job,
)
from console.jobs.timetable import kept_awake_ids
from console.models import Instance, InstanceState, Job, JobKind

log = logging.getLogger(__name__)
State = InstanceState
# A wake asked for to deepen a sleep that did not happen (refused: the GPUs were full)
# must not send the instance to level 2 the next time someone else wakes it.
_DEEPEN_MARK_SECONDS = 300


@dataclass(frozen=True)
class GatewayActivity:
    """The gateway's marks in Redis (last request, deepen marks), read against Redis's own
    now: request times come from Redis's clock, state times from this process's."""

    redis: Redis
    prefix: str
    redis_now: float

    def since_request(self, instance_id: int) -> float:
        last = self.redis.get(redis_keys.last_request(self.prefix, instance_id))
        return self.redis_now - float(last) if last is not None else float("inf")

    def deepen_mark(self, instance_id: int) -> float | None:
        mark = self.redis.get(redis_keys.deepen(self.prefix, instance_id))
        return float(mark) if mark is not None else None


def idle_seconds(instance: Instance, activity: GatewayActivity) -> float:
    in_state = (timezone.now() - instance.state_changed_at).total_seconds()
    return min(in_state, activity.since_request(instance.pk))


def decide(instance: Instance, activity: GatewayActivity) -> tuple[str, int] | None:
    """What to ask for now: ``("sleep", level)``, ``("wake", 0)`` (to deepen) or nothing."""
    t1, t2 = instance.idle_sleep_l1_seconds, instance.idle_sleep_l2_seconds
    if instance.state == State.AWAKE:
        mark = activity.deepen_mark(instance.pk)
        if mark is not None and activity.since_request(instance.pk) >= activity.redis_now - mark:
            return ("sleep", 2)
        idle = idle_seconds(instance, activity)
        if t1 and idle >= t1:
            return ("sleep", 1)
        if not t1 and t2 and idle >= t2:
            return ("sleep", 2)
    elif (
        instance.state == State.SLEEPING
        and instance.sleep_level == 1
        and t1
        and t2
        and idle_seconds(instance, activity) >= t2
    ):
        return ("wake", 0)
    return None


def requests_waiting(instance: Instance, activity: GatewayActivity) -> bool:
    """Requests held for the instance or in flight to it: nothing may put it to sleep."""
    held = activity.redis.zcard(redis_keys.held(activity.prefix, instance.served_model_name))
    return bool(held) or inflight_count(activity.redis, activity.prefix, instance.pk) > 0


def _ask(instance: Instance, action: str, level: int, activity: GatewayActivity) -> str | None:
    params = {"level": level} if action == "sleep" else {}
    kind = JobKind.SLEEP if action == "sleep" else JobKind.WAKE
    try:
        request_job(JobRequest(instance.pk, kind, params))
    except (JobConflictError, JobRefusedError) as why:
        log.info("idle policy left %s alone: %s", instance.name, why)
        return None
    deepen = redis_keys.deepen(activity.prefix, instance.pk)
    if action == "wake":
        activity.redis.set(deepen, f"{activity.redis_now:.3f}", ex=_DEEPEN_MARK_SECONDS)
    else:
        activity.redis.delete(deepen)
    return f"{instance.name}: {action}" + (f" level {level}" if action == "sleep" else " to deepen")


def run_idle_policy(config: GatewayConfig | None = None) -> list[str]:
    """One round over every instance with an idle policy; returns what it asked for."""
    config = config or GatewayConfig.from_settings()
    redis = sync_redis(config.redis_url)
    activity = GatewayActivity(redis, config.redis_prefix, float(redis.eval(scripts.NOW, 0)))
    busy_ids = Job.objects.filter(state__in=ACTIVE_STATES).values("instance_id")
    candidates = (
        Instance.objects.filter(state__in=[State.AWAKE, State.SLEEPING], pinned_awake=False)
        .exclude(pk__in=busy_ids)
        .exclude(pk__in=kept_awake_ids(timezone.now()))
        .exclude(idle_sleep_l1_seconds__isnull=True, idle_sleep_l2_seconds__isnull=True)
    )
    asked = []
    for instance in candidates:
        decision = decide(instance, activity)
        if decision is None or requests_waiting(instance, activity):
            continue
        outcome = _ask(instance, *decision, activity)
        if outcome:
            asked.append(outcome)
    return asked
