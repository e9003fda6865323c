"""Claiming a job: a duplicate message does nothing, a redelivered one never acts twice."""

from __future__ import annotations

import pytest

from console.jobs.runner import claim
from console.models import Instance, InstanceState, Job, JobKind, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance() -> Instance:
    return Instance.objects.create(
        name="llama", served_model_name="llama", base_url="http://127.0.0.1:9", state="awake"
    )


def test_a_queued_job_is_claimed_once(instance: Instance) -> None:
    job = Job.objects.create(instance=instance, kind=JobKind.SLEEP)
    claimed = claim(job.pk, "task-1")
    assert claimed is not None
    assert (claimed.state, claimed.celery_task_id) == (JobState.RUNNING, "task-1")
    assert claimed.started_at is not None


def test_a_duplicate_message_leaves_the_running_job_alone(instance: Instance) -> None:
    job = Job.objects.create(instance=instance, kind=JobKind.SLEEP)
    claim(job.pk, "task-1")
    assert claim(job.pk, "task-2") is None
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_a_message_redelivered_after_a_lost_worker_fails_the_job_instead_of_repeating_it(
    instance: Instance,
) -> None:
    job = Job.objects.create(instance=instance, kind=JobKind.SLEEP)
    claim(job.pk, "task-1")
    Instance.objects.filter(pk=instance.pk).update(state=InstanceState.FALLING_ASLEEP)
    assert claim(job.pk, "task-1") is None
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "worker running this job was lost" in job.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.UNKNOWN


def test_a_second_job_of_the_same_instance_waits_while_one_runs(instance: Instance) -> None:
    first = Job.objects.create(instance=instance, kind=JobKind.SLEEP)
    second = Job.objects.create(instance=instance, kind=JobKind.WAKE)
    assert claim(first.pk, "task-1") is not None
    assert claim(second.pk, "task-2") is None
    second.refresh_from_db()
    assert second.state == JobState.QUEUED
