"""The engine SIGKILLed in the middle of a sleep, a wake, a level-2 reload, and a wake that
requests held in the gateway are waiting for.

Each call is slowed down (pinning, the host-to-device link, the disk) so that the kill
lands while the engine is still working on it; the engine's log proves it never answered.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from console.jobs.service import JobRequest, request_job
from console.models import Instance, InstanceState, Job, JobKind, JobState
from console.models.gateway import InferenceKey
from tests.gateway.conftest import GatewayFactory, gateway_factory, post_completion
from tests.jobs.conftest import InstanceFactory, run_job, wait_finished
from tests.reliability.conftest import (
    NOT_RUNNING,
    assert_no_job_running,
    assert_rows_match_engines,
    kill_engine,
    posts_logged,
    wait_state,
    wait_until,
)

__all__ = ["gateway_factory"]

pytestmark = pytest.mark.slow

State = InstanceState
# After the row moved, the call reaches the engine within milliseconds and lasts about two
# seconds: half a second in, the engine is busy with it (its log shows it never finished).
CALL_UNDER_WAY = 0.5


def log_text(instance: Instance) -> str:
    return Path(instance.log_path).read_text(errors="replace")


def slow_instance(make_instance: InstanceFactory, name: str, *slow: str) -> Instance:
    """A launched instance whose engine takes about two seconds for the slowed step."""
    instance = make_instance(name)
    Instance.objects.filter(pk=instance.pk).update(launch_args=[*instance.launch_args, *slow])
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    return instance


def kill_during(instance: Instance, kind: str, moving: InstanceState, **params: object) -> str:
    """Ask for ``kind``, SIGKILL the engine once it is ``moving``, return the job's error."""
    job = request_job(JobRequest(instance.pk, kind, dict(params)))
    wait_state(instance, moving)
    time.sleep(CALL_UNDER_WAY)
    kill_engine(instance)
    job = wait_finished(job, timeout=60)
    assert job.state == JobState.FAILED
    return job.error


def assert_recovered(instance: Instance) -> None:
    assert_no_job_running()
    assert_rows_match_engines([instance])
    assert instance.state in NOT_RUNNING
    relaunch = run_job(instance, JobKind.LAUNCH)
    assert relaunch.state == JobState.SUCCEEDED, relaunch.error


def test_engine_killed_during_sleep_leaves_no_job_running_and_the_row_in_error(
    make_instance: InstanceFactory,
) -> None:
    instance = slow_instance(make_instance, "killsleep", "--pin-alloc-s-per-gib", "1.5")
    assert kill_during(instance, JobKind.SLEEP, State.FALLING_ASLEEP, level=1)
    assert posts_logged(instance, "/sleep") == 0, "killed before it answered"
    assert "to fall asleep" not in log_text(instance)
    assert_recovered(instance)


def test_engine_killed_during_wake_leaves_no_job_running_and_the_row_in_error(
    make_instance: InstanceFactory,
) -> None:
    instance = slow_instance(make_instance, "killwake", "--h2d-gbps", "1")
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    assert kill_during(instance, JobKind.WAKE, State.WAKING)
    assert posts_logged(instance, "/wake_up") == 0, "killed before it answered"
    assert_recovered(instance)


def test_engine_killed_during_level_two_reload_leaves_no_job_running(
    make_instance: InstanceFactory,
) -> None:
    instance = slow_instance(make_instance, "killreload", "--disk-gbps", "1")
    assert run_job(instance, JobKind.SLEEP, level=2).state == JobState.SUCCEEDED
    job = request_job(JobRequest(instance.pk, JobKind.WAKE, {}))
    wait_state(instance, State.WAKING)
    # The level-2 wake is wake_up(weights) then reload_weights: kill during the reload.
    wait_until(lambda: "Reloading weights" in log_text(instance), what="the reload started")
    kill_engine(instance)
    job = wait_finished(job, timeout=60)
    assert job.state == JobState.FAILED
    assert posts_logged(instance, "/collective_rpc") == 0, "killed during the reload"
    assert_recovered(instance)


def test_engine_killed_while_requests_wait_for_its_wake_answers_them_with_the_reason(
    make_instance: InstanceFactory, gateway_factory: GatewayFactory
) -> None:
    # A hold far longer than the test: an answer before it is the gateway's own decision.
    gateway = gateway_factory(HOLD_SECONDS="120")
    key = InferenceKey.issue("tests", [])[1]
    instance = slow_instance(make_instance, "heldkill", "--h2d-gbps", "1")
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    answers: list[httpx.Response] = []

    def request() -> None:
        answers.append(post_completion(gateway, key, "test/heldkill", timeout=150))

    held = [threading.Thread(target=request) for _ in range(4)]
    for thread in held:
        thread.start()
    # The first held request asked for the switch job; its wake is under way.
    wait_state(instance, State.WAKING)
    time.sleep(CALL_UNDER_WAY)
    kill_engine(instance)
    for thread in held:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [503] * 4
    for answer in answers:
        error = answer.json()["error"]
        assert error["code"] == "model_failed", error
        assert error["message"].startswith("The engine serving `test/heldkill` has failed: ")
        assert answer.headers["retry-after"] == "5"
    # The agent saw the engine die before the wake call gave up: the answers came first.
    switch = wait_finished(Job.objects.get(instance=instance, kind=JobKind.SWITCH))
    assert switch.state == JobState.FAILED
    assert posts_logged(instance, "/wake_up") == 0, "killed before it answered"
    assert_recovered(instance)
    # Relaunched, the same model is served through the gateway again.
    assert post_completion(gateway, key, "test/heldkill").status_code == 200
