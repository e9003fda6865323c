"""Two agents on this machine under different host names, each with its own simulated GPU."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from console.jobs.service import JobRefusedError, JobRequest, request_job
from console.models import Host, Instance, InstanceState, JobKind, JobState
from engines.launcher import Launcher
from tests.jobs.conftest import run_job
from tests.reliability.conftest import (
    assert_no_job_running,
    assert_rows_match_engines,
    create_engine_instance,
    stop_engines,
)
from tests.support.console import agent, control_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

State = InstanceState


def running_names(agent_dir: Path) -> set[str]:
    return {engine.name for engine in Launcher(agent_dir / "engines").find_running()}


def launched(host: Host, name: str) -> Instance:
    instance = create_engine_instance(host, name)
    job = run_job(instance, JobKind.LAUNCH)
    assert job.state == JobState.SUCCEEDED, job.error
    instance.refresh_from_db()
    return instance


def go_stale(host: Host) -> None:
    """The stopped agent's last heartbeat, as it will be once the staleness window passed."""
    Host.objects.filter(pk=host.pk).update(last_heartbeat=timezone.now() - timedelta(minutes=2))
    host.refresh_from_db()


def test_two_hosts_one_agent_lost_and_back(tmp_path: Path) -> None:
    dir_a, dir_b = tmp_path / "agent-a", tmp_path / "agent-b"
    try:
        with control_worker(tmp_path / "control"), agent(dir_b, "gpu-b"), ExitStack() as stack:
            stack.enter_context(agent(dir_a, "gpu-a"))
            host_a, host_b = Host.objects.get(name="gpu-a"), Host.objects.get(name="gpu-b")
            alpha, beta = launched(host_a, "alpha"), launched(host_b, "beta")
            assert (running_names(dir_a), running_names(dir_b)) == ({"alpha"}, {"beta"})

            stack.close()  # agent A stops; its engine keeps running
            go_stale(host_a)
            assert not host_a.is_online(timezone.now())
            assert host_b.is_online(timezone.now())
            gamma = create_engine_instance(host_a, "gamma")
            with pytest.raises(JobRefusedError, match="host gpu-a is offline"):
                request_job(JobRequest(gamma.pk, JobKind.LAUNCH, {}))
            assert run_job(beta, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
            assert run_job(beta, JobKind.WAKE).state == JobState.SUCCEEDED

            with agent(dir_a, "gpu-a"):
                host_a.refresh_from_db()
                assert host_a.is_online(timezone.now())
                assert running_names(dir_a) == {"alpha"}
                assert_rows_match_engines([alpha, beta])
                assert alpha.state == State.AWAKE
                stop = run_job(alpha, JobKind.STOP)
                assert stop.state == JobState.SUCCEEDED, stop.error
                assert running_names(dir_a) == set()
            assert_no_job_running()
    finally:
        stop_engines(dir_a)
        stop_engines(dir_b)
