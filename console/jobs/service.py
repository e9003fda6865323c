"""Asking for a job: one active job per instance, enqueued after the row is committed.

A second request for an instance that already has a queued or running job is refused
with the id of that job (HTTP 409), unless the caller asks to wait behind it; then it is
queued and dispatched when the job ahead finishes. Never both run: the runner moves a job
to ``running`` with a conditional update guarded by a partial unique index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from console import critical
from console.models import Instance, InstanceState, Job, JobKind, JobState


class JobConflictError(Exception):
    """The instance already has an active job; ``job_id`` names it."""

    def __init__(self, instance: Instance, job: Job) -> None:
        super().__init__(
            f"{instance.name} already has a {job.kind} job ({job.state}, id {job.pk}); "
            "wait for it or ask to queue behind it"
        )
        self.job_id = job.pk


class JobRefusedError(Exception):
    """The job cannot run at all (wrong state, bad parameters); the message says why."""


@dataclass(frozen=True)
class JobRequest:
    """What a user asked for, and who and from where (for the job row and the audit)."""

    instance_id: int
    kind: str
    params: dict[str, Any]
    user_id: int | None = None
    remote_addr: str | None = None
    queue_behind: bool = False


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
HOST_KINDS = {JobKind.LAUNCH, JobKind.STOP}


# The states a job can start from; a job queued behind another is checked when it runs.
STARTS_FROM: dict[str, set[InstanceState]] = {
    JobKind.SLEEP: {InstanceState.AWAKE},
    JobKind.WAKE: {InstanceState.SLEEPING},
    JobKind.SWITCH: {InstanceState.AWAKE, InstanceState.SLEEPING},
    JobKind.LAUNCH: {InstanceState.STOPPED, InstanceState.ERROR, InstanceState.UNKNOWN},
    JobKind.STOP: {
        InstanceState.AWAKE, InstanceState.SLEEPING, InstanceState.ERROR, InstanceState.UNKNOWN,
    },
}  # fmt: skip


def check_state(instance: Instance, kind: str) -> None:
    """Refuse at once what cannot run, rather than queue a job that will fail."""
    allowed = STARTS_FROM[kind]
    if instance.state not in allowed:
        wanted = " or ".join(sorted(allowed))
        raise JobRefusedError(f"{instance.name} is {instance.state}: {kind} needs it {wanted}")
    if kind == JobKind.STOP and not instance.pid:
        raise JobRefusedError(
            f"{instance.name} was not launched by the console (registered by URL): it has no "
            "process of the console's to stop; stop the engine where it runs"
        )


def check_host_online(instance: Instance, kind: str) -> None:
    """Launch and stop need the host's agent: refuse while its heartbeat is stale.

    Queued, the job would wait in the broker until the agent returns, perhaps hours later,
    and then launch an engine nobody asked for any more.
    """
    host = instance.host
    if kind not in HOST_KINDS or host is None:
        return
    now = timezone.now()
    if not host.is_online(now):
        beat = host.last_heartbeat
        seen = "never" if beat is None else f"{(now - beat).total_seconds():.0f} s ago"
        raise JobRefusedError(
            f"host {host.name} is offline (agent's last heartbeat: {seen}): cannot {kind} "
            f"{instance.name}"
        )


def queue_for(job: Job) -> str:
    """Launch and stop run on the instance's GPU host; the rest are HTTP calls from control."""
    if job.kind in HOST_KINDS:
        host = job.instance.host
        if host is None:
            raise JobRefusedError(
                f"{job.instance.name} has no host, so no launch spec: the console cannot "
                f"{job.kind} it (registered by URL); start or stop the engine where it runs"
            )
        return f"host.{host.name}"
    return "control"


def request_job(request: JobRequest) -> Job:
    """Create the job row and enqueue it when the transaction commits.

    On the critical path of a click or a held request: this process's publication of the
    new job waits until it is sent to a worker (``console.critical``).
    """
    with critical.running(), transaction.atomic():
        instance = lock_instance(request.instance_id)
        active = Job.objects.filter(instance=instance, state__in=ACTIVE_STATES).first()
        if active is not None and not request.queue_behind:
            raise JobConflictError(instance, active)
        if active is None:
            check_state(instance, request.kind)
        check_host_online(instance, request.kind)
        job = Job.objects.create(
            instance=instance,
            kind=request.kind,
            params=request.params,
            requested_by_id=request.user_id,
            requested_from=request.remote_addr,
        )
        queue = queue_for(job)
        if active is None:
            transaction.on_commit(lambda: enqueue(job.pk, queue))
    return job


def lock_instance(instance_id: int) -> Instance:
    """The instance's row, locked until the transaction ends: a job's request and the end
    of the job before it are serialised (PostgreSQL row locks; SQLite's IMMEDIATE
    transactions already take the one write lock at BEGIN)."""
    return (
        Instance.objects.select_for_update(of=("self",)).select_related("host").get(pk=instance_id)
    )


# Sent by name, as ``runner.gather_evidence`` does: ``console.tasks`` imports the jobs, so
# the jobs importing it back would close a circle.
RUN_JOB_TASK = "console.tasks.run_job"


def enqueue(job_id: int, queue: str) -> None:
    current_app.send_task(RUN_JOB_TASK, (job_id,), queue=queue)


def dispatch_next(instance_id: int) -> None:
    """After a job ends: send the oldest job queued behind it, if any."""
    following = (
        Job.objects.filter(instance_id=instance_id, state=JobState.QUEUED)
        .select_related("instance__host")
        .order_by("created_at", "pk")
        .first()
    )
    if following is not None:
        transaction.on_commit(lambda: enqueue(following.pk, queue_for(following)))
