"""How a job ends: ``terminate`` is the one way, whatever ends it.

A job ends when its worker records the outcome, when the reconcile loop finds it past its
time limit, when a restarted worker or agent finds it lost, or when an operator cancels
it while it waits. Every one of those goes through ``terminate``, which moves the row
(a conditional update: two enders cannot both end it), puts the instance in doubt when the
job may have left the engine half done, and sends the job queued behind it: a queued job
is never left waiting for an ending that already happened.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction

from console.jobs.service import dispatch_next, lock_instance
from console.models import InstanceState, Job, JobState, transition, transition_job
from console.models.notifications import AlertKind
from console.notifications.alerts import alert

State = InstanceState
# States an action leaves an instance in while it is under way.
TRANSIENT = frozenset({State.FALLING_ASLEEP, State.WAKING, State.STARTING, State.STOPPING})


def doubt_instance(instance_id: int, why: str) -> None:
    """An action may have been half done: mark the row unknown so the loop reads the truth."""
    transition(instance_id, set(TRANSIENT), State.UNKNOWN, state_detail=why)


def terminate(
    job_id: int,
    to: JobState,
    error: str = "",
    *,
    expected: Collection[JobState] = (JobState.RUNNING,),
    doubt: str = "",
    **fields: Any,
) -> bool:
    """End the job in state ``to`` if it is in ``expected``; True when this call ended it.

    ``doubt`` (why) marks the instance unknown if it is still in a transitional state;
    the oldest job queued behind it is then sent.
    """
    instance_id = Job.objects.values_list("instance_id", flat=True).get(pk=job_id)
    # Under the instance's row lock, which ``request_job`` takes too: a job asked for while
    # this one ends either saw it active and is queued before this looks for what follows,
    # or saw it ended and was sent by its request. Without the lock (PostgreSQL) a job
    # queued in between was never sent.
    with transaction.atomic():
        lock_instance(instance_id)
        if not transition_job(job_id, set(expected), to, error=error, **fields):
            return False
        if doubt:
            doubt_instance(instance_id, doubt)
        dispatch_next(instance_id)
    if to == JobState.FAILED:  # after the next job is sent: nothing waits for an alert
        alert_failed(job_id, error)
    return True


def alert_failed(job_id: int, error: str) -> None:
    kind, name = Job.objects.values_list("kind", "instance__name").get(pk=job_id)
    alert(
        AlertKind.JOB_FAILED, f"{kind} job {job_id} of {name} failed: {error}",
        job=job_id, kind=kind, instance=name, error=error,
    )  # fmt: skip


def cancel(job_id: int, by: str) -> bool:
    """Withdraw a job that no worker has taken yet; False when it is no longer queued."""
    return terminate(job_id, JobState.CANCELLED, f"cancelled by {by}", expected=(JobState.QUEUED,))
