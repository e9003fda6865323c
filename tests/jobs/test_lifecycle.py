"""One way a job ends: whatever ends a job, the job queued behind it is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.jobs import lifecycle
from console.jobs.reconcile import fail_lost_control_jobs, fail_stuck_jobs
from console.jobs.runner import TIME_LIMITS
from console.jobs.service import JobRequest, request_job
from console.models import Instance, InstanceState, Job, JobKind, JobState
from tests.jobs.conftest import InstanceFactory, run_job, wait_finished

pytestmark = pytest.mark.slow


def launched(make_instance: InstanceFactory, name: str) -> Instance:
    instance = make_instance(name)
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    return instance


def stuck_job(instance: Instance, kind: str, seconds_ago: float) -> Job:
    """A job a worker claimed and never ended (its worker is gone)."""
    return Job.objects.create(
        instance=instance, kind=kind, state=JobState.RUNNING, celery_task_id="lost-task",
        started_at=timezone.now() - timedelta(seconds=seconds_ago),
    )  # fmt: skip


def queued_behind(instance: Instance, kind: str, **params: object) -> Job:
    return request_job(JobRequest(instance.pk, kind, dict(params), queue_behind=True))


def test_a_job_queued_behind_one_failed_for_its_time_limit_runs(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "overrun")
    stuck = stuck_job(instance, JobKind.SLEEP, TIME_LIMITS[JobKind.SLEEP] + 120)
    behind = queued_behind(instance, JobKind.SLEEP, level=1)
    assert fail_stuck_jobs(TIME_LIMITS) == 1
    stuck.refresh_from_db()
    assert (stuck.state, stuck.error) == (JobState.FAILED, "the job exceeded its time limit")
    behind = wait_finished(behind, timeout=30)
    assert behind.state == JobState.SUCCEEDED, behind.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.SLEEPING


def test_a_job_queued_behind_one_whose_worker_was_lost_runs(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "orphaned")
    stuck_job(instance, JobKind.SLEEP, 5)
    behind = queued_behind(instance, JobKind.SLEEP, level=1)
    assert fail_lost_control_jobs(active_task_ids=[], before=timezone.now()) == 1
    assert wait_finished(behind, timeout=30).state == JobState.SUCCEEDED


def test_a_cancelled_queued_job_never_runs_and_the_next_one_does(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "withdrawn")
    stuck = stuck_job(instance, JobKind.SLEEP, 5)
    cancelled = queued_behind(instance, JobKind.SLEEP, level=2)
    behind = queued_behind(instance, JobKind.SLEEP, level=1)
    assert lifecycle.cancel(cancelled.pk, by="operator1")
    assert not lifecycle.cancel(cancelled.pk, by="operator1"), "only once"
    assert not lifecycle.cancel(stuck.pk, by="operator1"), "a running job is not withdrawn"
    lifecycle.terminate(stuck.pk, JobState.FAILED, "gone")
    assert wait_finished(behind, timeout=30).state == JobState.SUCCEEDED
    cancelled.refresh_from_db()
    assert (cancelled.state, cancelled.error) == (JobState.CANCELLED, "cancelled by operator1")
    assert cancelled.started_at is None
    instance.refresh_from_db()
    assert (instance.state, instance.sleep_level) == (InstanceState.SLEEPING, 1)
