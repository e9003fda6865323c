"""One way a job ends: whatever ends a job, the job queued behind it is sent."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from console.jobs import lifecycle, service
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


def test_a_job_queued_while_the_one_before_it_ends_runs(
    make_instance: InstanceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race that left a job queued for ever on PostgreSQL: the request saw the running
    job, the job ended and found nothing queued behind it, then the request committed."""
    instance = launched(make_instance, "handover")
    stuck = stuck_job(instance, JobKind.SLEEP, 5)
    inside, go = threading.Event(), threading.Event()
    checked = service.check_host_online

    def check_then_wait(*args: Any) -> None:  # inside request_job's transaction
        checked(*args)
        inside.set()
        go.wait(10)

    monkeypatch.setattr(service, "check_host_online", check_then_wait)
    requested: list[Job] = []

    def in_thread(work: Any) -> threading.Thread:
        def run() -> None:
            try:
                work()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    request = in_thread(lambda: requested.append(queued_behind(instance, JobKind.SLEEP, level=1)))
    assert inside.wait(10), "the request reached its check"
    ending = in_thread(lambda: lifecycle.terminate(stuck.pk, JobState.FAILED, "gone"))
    ending.join(1)  # with the lock it waits for the request; without, it ends at once
    go.set()
    request.join(10)
    ending.join(10)
    assert not request.is_alive()
    assert not ending.is_alive()
    stuck.refresh_from_db()
    assert stuck.state == JobState.FAILED
    (behind,) = requested
    assert wait_finished(behind, timeout=30).state == JobState.SUCCEEDED
