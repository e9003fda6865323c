"""The console's own processes SIGKILLed mid-job: the control worker and the host's agent.

After the restart the job is failed, never repeated (the engine's log counts the calls),
and one reconcile pass puts every row back in line with its engine.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from console.jobs.reconcile import AGENT_LOST, WORKER_LOST, fail_stuck_jobs, reconcile_all
from console.jobs.runner import TIME_LIMITS
from console.jobs.service import JobRequest, request_job
from console.models import Host, Instance, InstanceState, Job, JobKind, JobState
from engines.launcher import Launcher
from tests.jobs.conftest import HOST, run_job, wait_finished
from tests.reliability.conftest import (
    assert_no_job_running,
    assert_rows_match_engines,
    create_engine_instance,
    posts_logged,
    sigkill,
    stop_engines,
    wait_state,
    wait_until,
)
from tests.support.console import agent, control_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

State = InstanceState


def log_text(instance: Instance) -> str:
    instance.refresh_from_db()
    return Path(instance.log_path).read_text(errors="replace")


def fall_asleep_lines(instance: Instance) -> int:
    return log_text(instance).count("to fall asleep")


def test_control_worker_killed_during_a_sleep_fails_the_job_once_and_never_repeats_it(
    tmp_path: Path,
) -> None:
    try:
        with agent(tmp_path / "agent", HOST):
            with control_worker(tmp_path / "control") as worker:
                host = Host.objects.get(name=HOST)
                instance = create_engine_instance(host, "workerdies", "--pin-alloc-s-per-gib", "1")
                assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
                job = request_job(JobRequest(instance.pk, JobKind.SLEEP, {"level": 1}))
                # 0.11.0 resets the prefix cache as its sleep begins: the engine has the call.
                wait_until(lambda: "reset prefix cache" in log_text(instance), what="sleep begun")
                sigkill(worker)
            # The engine got the call before the worker died and finishes it on its own.
            wait_until(lambda: fall_asleep_lines(instance) == 1, what="the engine asleep")
            with control_worker(tmp_path / "control-again"):
                # The new worker asked the live ones what they run: this job is not among them.
                job = wait_finished(job, timeout=10)
                assert (job.state, job.error) == (JobState.FAILED, WORKER_LOST)
                assert_no_job_running()
                assert_rows_match_engines([instance])
                # 0.11.0 does not say its level: taken as 2, whose wake reloads (always right).
                assert (instance.state, instance.sleep_level) == (State.SLEEPING, 2)
                assert run_job(instance, JobKind.WAKE).state == JobState.SUCCEEDED
            assert posts_logged(instance, "/sleep") == 1
            assert fall_asleep_lines(instance) == 1
    finally:
        stop_engines(tmp_path / "agent")


def test_agent_killed_during_a_launch_fails_the_job_and_finds_the_engine_again(
    tmp_path: Path,
) -> None:
    try:
        with control_worker(tmp_path / "control"):
            with agent(tmp_path / "agent", HOST) as first:
                host = Host.objects.get(name=HOST)
                instance = create_engine_instance(host, "agentdies", "--startup-seconds", "3")
                job = request_job(JobRequest(instance.pk, JobKind.LAUNCH, {}))
                wait_state(instance, State.STARTING)
                wait_until(lambda: Instance.objects.get(pk=instance.pk).pid is not None)
                sigkill(first)
            with agent(tmp_path / "agent", HOST):
                job = wait_finished(job, timeout=10)
                assert (job.state, job.error) == (JobState.FAILED, AGENT_LOST)
                wait_until(lambda: reconcile_says_awake(instance), what="engine found again")
                instance.refresh_from_db()
                (engine,) = Launcher(tmp_path / "agent" / "engines").find_running()
                assert engine.pid == instance.pid, "the first engine, not a second launch"
                assert not Path(f"{instance.log_path}.1").exists(), "launched once"
                assert_no_job_running()
                assert_rows_match_engines([instance])
    finally:
        stop_engines(tmp_path / "agent")


def test_a_job_running_past_its_time_limit_is_failed_by_the_reconcile_loop() -> None:
    instance = Instance.objects.create(
        name="overdue", served_model_name="m", base_url="http://127.0.0.1:9", state=State.WAKING
    )
    started = timezone.now() - timedelta(seconds=TIME_LIMITS[JobKind.WAKE] + 61)
    job = Job.objects.create(instance=instance, kind=JobKind.WAKE, state=JobState.RUNNING,
                             started_at=started)  # fmt: skip
    assert fail_stuck_jobs(TIME_LIMITS) == 1
    job.refresh_from_db()
    instance.refresh_from_db()
    assert (job.state, job.error) == (JobState.FAILED, "the job exceeded its time limit")
    assert instance.state == State.UNKNOWN


def reconcile_says_awake(instance: Instance) -> bool:
    """One reconcile pass; the engine answers once it has loaded (about three seconds)."""
    reconcile_all()
    instance.refresh_from_db()
    return bool(instance.state == State.AWAKE)
