"""Running a job: claim it, run its kind's function, record the outcome, dispatch the next.

``claim`` is the only way a job starts: a conditional ``queued → running`` update. A
message delivered twice (a duplicate dispatch) finds the job no longer queued and does
nothing; a message redelivered because the worker running it died (same Celery task id)
marks the job failed instead of sending the engine the same action a second time. A
control worker that starts fails at once the running jobs no live worker is running.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.db import close_old_connections
from django.utils import timezone

from console import critical
from console.jobs import process, sleepwake, switch
from console.jobs.lifecycle import terminate
from console.jobs.outcome import JobOutcome
from console.jobs.reconcile import WORKER_LOST, fail_lost_control_jobs
from console.jobs.sampling import ask_for_samples
from console.jobs.service import HOST_KINDS, JobRefusedError, check_state
from console.models import Job, JobKind, JobState, transition_job
from engines.errors import EngineError
from engines.launcher import LaunchError

log = logging.getLogger(__name__)

Executor = Callable[[Job, JobOutcome], None]

# Hard limits per kind, in seconds: a level-1 sleep of a 75 GiB model takes ~45 s the first
# time on an H100, a cold launch with torch.compile several minutes.
TIME_LIMITS: dict[str, int] = {
    JobKind.SLEEP: 900,
    JobKind.WAKE: 900,
    JobKind.SWITCH: 1800,
    JobKind.LAUNCH: 1800,
    JobKind.STOP: 180,
}
# How long a starting control worker waits for the others to say what they are running.
ACTIVE_REPLY_SECONDS = 1.0
EVIDENCE_TASK = "console.tasks.attach_job_evidence"
EVIDENCE_DELAY_SECONDS = 0.2
EXPECTED_FAILURES = (EngineError, JobRefusedError, LaunchError, SoftTimeLimitExceeded)


def run_sleep(job: Job, outcome: JobOutcome) -> None:
    sleepwake.sleep_instance(job.instance, int(job.params.get("level", 1)), outcome)


def run_wake(job: Job, outcome: JobOutcome) -> None:
    sleepwake.wake_instance(job.instance, job.params.get("tags"), outcome)


EXECUTORS: dict[str, Executor] = {
    JobKind.SLEEP: run_sleep,
    JobKind.WAKE: run_wake,
    JobKind.SWITCH: switch.switch_to,
    JobKind.LAUNCH: process.launch,
    JobKind.STOP: process.stop,
}


def claim(job_id: int, task_id: str) -> Job | None:
    """Move the job to running, or say why not (None) and deal with a lost run."""
    # False also when another job of the instance runs: this one is dispatched after it.
    if transition_job(job_id, {JobState.QUEUED}, JobState.RUNNING, celery_task_id=task_id):
        return Job.objects.select_related("instance", "instance__host").get(pk=job_id)
    # The same task id redelivered: the worker that was running it died mid-job.
    if Job.objects.filter(pk=job_id, state=JobState.RUNNING, celery_task_id=task_id).exists():
        terminate(job_id, JobState.FAILED, WORKER_LOST, doubt="a job was interrupted")
    return None


def run(job_id: int, task_id: str) -> None:
    # The claim, the checks, the moves and the engine calls are the critical path: the
    # process's background work (publications, evidence) waits until the job's end is
    # written, except while an engine call is awaited (``console.critical``).
    with critical.running():
        job = claim(job_id, task_id)
        if job is None:
            return
        outcome = execute(job)
    if outcome.has_evidence_to_gather:
        # After the job's end is written: the agent's tick writes too, and on SQLite it
        # would hold the one write lock the job's end waits for (8 ms at p50 in the bench).
        if job.instance.host is not None:
            ask_for_samples([job.instance.host.name])
        gather_evidence(job.pk)


def execute(job: Job) -> JobOutcome:
    """Run the claimed job and write how it ended."""
    outcome = JobOutcome()
    started = time.monotonic()
    state, error, doubt = JobState.SUCCEEDED, "", ""
    # A launch or a stop waits for a process for seconds or minutes: not a switch's path.
    pace = critical.waiting() if job.kind in HOST_KINDS else contextlib.nullcontext()
    try:
        with pace:
            check_state(job.instance, job.kind)  # again: a job queued behind another
            EXECUTORS[job.kind](job, outcome)
    except EXPECTED_FAILURES as failure:
        state, error = JobState.FAILED, describe(failure)
        if isinstance(failure, SoftTimeLimitExceeded):
            doubt = "a job ran past its time limit"
    except Exception as failure:
        log.exception("job %s failed unexpectedly", job.pk)
        state, error = JobState.FAILED, f"internal error: {type(failure).__name__}: {failure}"
        doubt = "a job failed unexpectedly"
    finally:
        wall_seconds = round(time.monotonic() - started, 3)
        terminate(job.pk, state, error, doubt=doubt, wall_seconds=wall_seconds, **outcome.fields())
    return outcome


@worker_ready.connect(dispatch_uid="jobs-fail-lost-control-jobs")
def fail_jobs_lost_with_a_worker(sender: Any, **kwargs: Any) -> None:
    """A control worker (re)started: running jobs that no live worker runs died with theirs.

    Their message comes back only after the broker's visibility timeout (an hour), and the
    reconcile loop fails them only past their time limit (up to half an hour): asking the
    workers what they run now fails them at once. Agents deal with their own queue.
    """
    if "control" not in {queue.name for queue in sender.task_consumer.queues}:
        return
    before = timezone.now()
    running = Job.objects.filter(state=JobState.RUNNING, started_at__lt=before)
    if not running.exclude(kind__in=HOST_KINDS).exists():
        return
    replies = sender.app.control.inspect(timeout=ACTIVE_REPLY_SECONDS).active() or {}
    active = {task["id"] for tasks in replies.values() for task in tasks}
    log.warning("failed %d job(s) whose worker was lost", fail_lost_control_jobs(active, before))
    close_old_connections()


def gather_evidence(job_id: int) -> None:
    """Have a background worker add the engine's figures to the job now that it has ended
    (``evidence.attach``); by name, as the tasks module imports this one."""
    try:
        # A moment later: a request the job's wake released is being answered now, and on
        # a small host the evidence's queries and log polling would share its CPU.
        current_app.send_task(EVIDENCE_TASK, (job_id,), countdown=EVIDENCE_DELAY_SECONDS)
    except Exception as error:  # the broker is down: the job stands, without its figures
        log.warning("job %s: could not ask for its evidence: %r", job_id, error)


def describe(failure: BaseException) -> str:
    if isinstance(failure, SoftTimeLimitExceeded):
        return "the job ran past its time limit"
    if isinstance(failure, LaunchError):
        return failure.reason
    return str(failure)
