"""Job rows: lifecycle stamps and at most one running job per instance."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection

from console.models import (
    IllegalTransitionError,
    Instance,
    Job,
    JobKind,
    JobState,
    transition_job,
)
from console.roles import Role
from tests.console.conftest import create_job

J = JobState


def test_starting_a_job_stamps_started_at(make_instance: Callable[..., Instance]) -> None:
    job = create_job(make_instance())
    assert transition_job(job.pk, {J.QUEUED}, J.RUNNING, celery_task_id="t-1")
    job.refresh_from_db()
    assert job.state == J.RUNNING
    assert job.started_at is not None
    assert job.celery_task_id == "t-1"


def test_finishing_a_job_stamps_finished_at(make_instance: Callable[..., Instance]) -> None:
    job = create_job(make_instance(), state=J.RUNNING)
    assert transition_job(job.pk, {J.RUNNING}, J.SUCCEEDED, engine_seconds=1.5)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert job.engine_seconds == 1.5


def test_a_finished_job_cannot_run_again(make_instance: Callable[..., Instance]) -> None:
    job = create_job(make_instance(), state=J.SUCCEEDED)
    with pytest.raises(IllegalTransitionError):
        transition_job(job.pk, {J.SUCCEEDED}, J.RUNNING)


def test_database_refuses_a_second_running_job(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance()
    create_job(instance, state=J.RUNNING)
    with pytest.raises(IntegrityError):
        create_job(instance, state=J.RUNNING)


def test_second_job_does_not_start_while_one_runs(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance()
    create_job(instance, state=J.RUNNING)
    waiting = create_job(instance)
    assert not transition_job(waiting.pk, {J.QUEUED}, J.RUNNING)
    assert Job.objects.get(pk=waiting.pk).state == J.QUEUED


def test_jobs_of_different_instances_run_at_once(make_instance: Callable[..., Instance]) -> None:
    create_job(make_instance(), state=J.RUNNING)
    other = create_job(make_instance())
    assert transition_job(other.pk, {J.QUEUED}, J.RUNNING)


def test_cancelling_a_queued_job_stamps_finished_at(
    make_instance: Callable[..., Instance],
) -> None:
    job = create_job(make_instance())
    assert transition_job(job.pk, {J.QUEUED}, J.CANCELLED)
    job.refresh_from_db()
    assert (job.state, job.started_at is None, job.finished_at is not None) == (
        J.CANCELLED,
        True,
        True,
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_two_jobs_of_one_instance_start_only_one() -> None:
    instance = Instance.objects.create(name="busy", served_model_name="m", base_url="http://h:1")
    jobs = [create_job(instance), create_job(instance)]
    barrier = threading.Barrier(2)
    results: dict[int, bool] = {}

    def start(job_id: int) -> None:
        try:
            barrier.wait()
            results[job_id] = transition_job(job_id, {J.QUEUED}, J.RUNNING)
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(job.pk,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False, True]
    assert Job.objects.filter(instance=instance, state=J.RUNNING).count() == 1


def test_a_job_is_authored_by_its_user(
    make_instance: Callable[..., Instance], make_user: Callable[..., User]
) -> None:
    job = create_job(make_instance(), requested_by=make_user(Role.OPERATOR, username="olga"))
    assert job.author == "olga"


def test_a_gateway_wake_is_authored_by_its_inference_key(
    make_instance: Callable[..., Instance],
) -> None:
    params = {"via": "gateway", "inference_key": "chat-app"}
    job = create_job(make_instance(), kind=JobKind.SWITCH, params=params)
    assert job.author == "inference key chat-app"


def test_the_consoles_own_job_has_no_author(make_instance: Callable[..., Instance]) -> None:
    assert create_job(make_instance()).author == ""
