"""Jobs end to end: a real control worker, a real agent, emulators as real processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from console.jobs.capacity import engine_rss_bytes, held_pinned_bytes, host_ram_figures
from console.jobs.evidence import gpu_used_bytes
from console.jobs.reconcile import reconcile_all
from console.jobs.service import JobConflictError, JobRequest, request_job
from console.models import EngineEvent, Instance, InstanceState, JobKind, JobState
from engines.versions import VllmVersion
from tests.jobs.conftest import InstanceFactory, run_job, wait_finished, with_evidence

pytestmark = pytest.mark.slow

GIB = 1 << 30
MIB = 1 << 20


def completion(instance: Instance) -> str:
    response = httpx.post(
        f"{instance.base_url}/v1/completions",
        json={"model": instance.served_model_name, "prompt": "The capital of France is",
              "max_tokens": 8, "temperature": 0},
        timeout=30,
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["choices"][0]["text"])


def wait_state(instance: Instance, state: str, timeout: float = 15) -> Instance:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        instance.refresh_from_db()
        if instance.state == state:
            return instance
        time.sleep(0.1)
    raise AssertionError(
        f"{instance.name} is {instance.state}, not {state}: {instance.state_detail}"
    )


def test_launch_sleep_wake_stop_record_the_engines_figures(make_instance: InstanceFactory) -> None:
    instance = make_instance("alpha")
    launch = run_job(instance, JobKind.LAUNCH)
    assert launch.state == JobState.SUCCEEDED, launch.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.AWAKE
    assert instance.pid is not None
    assert psutil.pid_exists(instance.pid)
    # The job's "before" figure is the agent's newest GPU sample taken after the launch
    # ended (an earlier one shows a GPU still moving): let one be taken.
    wait_until(
        lambda: (gpu_used_bytes(instance, after=launch.finished_at) or 0) >= 4 * GIB,
        "a sample of the launched engine",
    )

    sleep = run_job(instance, JobKind.SLEEP, level=1)
    assert sleep.state == JobState.SUCCEEDED, sleep.error
    assert sleep.outcome_detail["evidence"] == "pending", "the job ends before its evidence"
    sleep = with_evidence(sleep)
    assert (sleep.engine_seconds or 0) > 0
    assert sleep.backed_up_gib == pytest.approx(2.0, abs=0.01)
    assert (sleep.wall_seconds or 0) >= (sleep.engine_seconds or 0)
    assert (sleep.gpu_used_before_bytes or 0) - (sleep.gpu_used_after_bytes or 0) >= 3.9 * GIB
    assert "fall asleep" in sleep.log_excerpt
    (step,) = sleep.outcome_detail["steps"]
    assert step["call_seconds"] >= step["engine_seconds"] > 0
    instance.refresh_from_db()
    assert (instance.state, instance.sleep_level) == (InstanceState.SLEEPING, 1)

    wake = with_evidence(run_job(instance, JobKind.WAKE))
    assert wake.state == JobState.SUCCEEDED, wake.error
    assert (wake.engine_seconds or 0) > 0
    assert (wake.first_request_seconds or 0) > 0
    assert (wake.gpu_used_after_bytes or 0) - (wake.gpu_used_before_bytes or 0) >= 3.9 * GIB
    assert wait_state(instance, InstanceState.AWAKE).sleep_level is None

    pid = instance.pid
    assert pid is not None
    stop = run_job(instance, JobKind.STOP)
    assert stop.state == JobState.SUCCEEDED, stop.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.STOPPED
    assert not psutil.pid_exists(pid), "stopped and reaped"


def test_a_level_one_sleep_measures_what_it_pinned_and_counts_it_held_after_the_wake(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance("pinner")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    # The agent samples the engine's RSS (with the simulated pinned bytes) 5 times a second.
    wait_until(lambda: engine_rss_bytes(instance) is not None, "an RSS sample of the engine")
    assert host_ram_figures(instance).measured is False, "estimated before any sleep"
    sleep = with_evidence(run_job(instance, JobKind.SLEEP, level=1))
    assert sleep.state == JobState.SUCCEEDED
    instance.refresh_from_db()
    baseline = instance.pinned_baseline_bytes
    assert baseline is not None
    assert baseline < 2 * GIB, "the engine's RSS before the sleep, without the backup"
    # The emulator pins its 2 GiB of weights as one buffer: 2 GiB, plus RSS noise.
    pinned = instance.pinned_backup_bytes
    assert pinned is not None
    assert 2 * GIB <= pinned < 2 * GIB + 256 * MIB
    (step,) = sleep.outcome_detail["steps"]
    assert step["pinned_gib"] == round(pinned / GIB, 2)
    assert run_job(instance, JobKind.WAKE).state == JobState.SUCCEEDED
    # Awake again, the engine keeps what it pinned (PyTorch's host cache does).
    wait_until(lambda: held_pinned_bytes(instance) >= 2 * GIB, "the kept backup in a sample")
    ram = host_ram_figures(instance)
    assert (ram.pinned, ram.measured) == (pinned, True)
    assert ram.held >= 2 * GIB
    assert with_evidence(run_job(instance, JobKind.SLEEP, level=1)).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.pinned_baseline_bytes == baseline, "measured from the first sleep"
    assert run_job(instance, JobKind.STOP).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.pinned_baseline_bytes is None, "a new process pins anew"
    assert instance.pinned_backup_bytes is not None, "the same model pins the same"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.1)


def test_level_two_wake_reloads_the_weights(make_instance: InstanceFactory) -> None:
    instance = make_instance("beta")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    before = completion(instance)
    assert run_job(instance, JobKind.SLEEP, level=2).state == JobState.SUCCEEDED
    wake = run_job(instance, JobKind.WAKE)
    assert wake.state == JobState.SUCCEEDED, wake.error
    assert completion(instance) == before


def test_a_second_job_is_refused_with_the_running_jobs_id(make_instance: InstanceFactory) -> None:
    instance = make_instance("gamma")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    first = request_job(JobRequest(instance.pk, JobKind.SLEEP, {"level": 1}))
    with pytest.raises(JobConflictError) as conflict:
        request_job(JobRequest(instance.pk, JobKind.WAKE, {}))
    assert conflict.value.job_id == first.pk
    behind = request_job(JobRequest(instance.pk, JobKind.WAKE, {}, queue_behind=True))
    assert wait_finished(first).state == JobState.SUCCEEDED
    behind = wait_finished(behind)
    assert behind.state == JobState.SUCCEEDED, behind.error
    assert behind.started_at is not None
    assert first.finished_at is not None
    assert behind.started_at >= first.finished_at


def test_a_wake_that_does_not_fit_is_refused_naming_the_numbers(
    make_instance: InstanceFactory,
) -> None:
    first = make_instance("delta", weights_gib=8, kv_gib=6)
    second = make_instance("epsilon", weights_gib=8, kv_gib=6)
    assert run_job(first, JobKind.LAUNCH).state == JobState.SUCCEEDED
    assert run_job(first, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    launch = run_job(second, JobKind.LAUNCH)
    assert launch.state == JobState.SUCCEEDED
    # Let the agent sample both engines: the figures below then hold whenever the wake
    # comes (before any sample the ledger counts the launched engine by its row alone,
    # 0.2 GiB less; test_ledger covers that case).
    wait_until(
        lambda: (gpu_used_bytes(second, after=launch.finished_at) or 0) >= 14 * GIB,
        "a sample of the launched engine",
    )
    wake = run_job(first, JobKind.WAKE)
    assert wake.state == JobState.FAILED
    # Each needs 14 GiB of weights and KV cache and keeps 0.2 GiB beyond (asleep or awake).
    assert "delta needs 14.2 GiB on GPU 0 but only 9.8 GiB is free" in wake.error
    first.refresh_from_db()
    assert first.state == InstanceState.SLEEPING

    switch = run_job(first, JobKind.SWITCH)
    assert switch.state == JobState.SUCCEEDED, switch.error
    steps = [(s["step"], s["instance"]) for s in switch.outcome_detail["steps"]]
    assert steps == [("sleep", "epsilon"), ("wake", "delta")]
    assert wait_state(first, InstanceState.AWAKE)
    assert wait_state(second, InstanceState.SLEEPING)


def test_reconcile_follows_an_engine_put_to_sleep_behind_the_consoles_back(
    make_instance: InstanceFactory,
) -> None:
    # 0.17 exports vllm:engine_sleep_state, which tells the level as well.
    instance = make_instance("zeta", version="0.17.0")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    httpx.post(f"{instance.base_url}/sleep?level=1", timeout=30).raise_for_status()
    changes = reconcile_all()
    assert changes == ["zeta: console had awake, engine reports sleeping (level 1)"]
    instance.refresh_from_db()
    assert (instance.state, instance.sleep_level) == (InstanceState.SLEEPING, 1)
    assert EngineEvent.objects.filter(instance=instance, kind="state_corrected").exists()


def test_reconcile_takes_an_unknown_sleep_level_as_two_so_the_wake_reloads_weights(
    make_instance: InstanceFactory,
) -> None:
    # 0.11.0 has only /is_sleeping: asleep, but at which level it does not say.
    instance = make_instance("iota", version="0.11.0")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    before = completion(instance)
    httpx.post(f"{instance.base_url}/sleep?level=2", timeout=30).raise_for_status()
    assert reconcile_all() == ["iota: console had awake, engine reports sleeping (level 2)"]
    assert run_job(instance, JobKind.WAKE).state == JobState.SUCCEEDED
    assert completion(instance) == before


def test_a_killed_engine_becomes_an_error_with_its_last_log_lines(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance("eta")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    pid = instance.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_state(instance, InstanceState.ERROR)
    died = EngineEvent.objects.get(instance=instance, kind="engine_died")
    first, *last_lines = died.message.splitlines()
    assert first == f"engine process {pid} exited"
    assert last_lines, "the engine's last log lines follow"


def test_a_launch_that_cannot_fit_is_refused_naming_the_numbers(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance("mu", weights_gib=40, kv_gib=1)
    launch = run_job(instance, JobKind.LAUNCH)
    assert launch.state == JobState.FAILED
    assert launch.error.startswith("mu needs 41.0 GiB on GPU 0 but only 24.0 GiB is free")
    instance.refresh_from_db()
    assert instance.state == InstanceState.STOPPED, "nothing was started"
    assert instance.pid is None


def test_a_launch_that_dies_at_start_reports_the_engines_last_lines(
    make_instance: InstanceFactory,
) -> None:
    # Sizes the console does not know: the ledger lets it start, the engine dies of an OOM.
    instance = make_instance("theta", weights_gib=40, kv_gib=1)
    Instance.objects.filter(pk=instance.pk).update(
        expected_weights_gib=None, expected_kv_cache_gib=None
    )
    launch = run_job(instance, JobKind.LAUNCH)
    assert launch.state == JobState.FAILED
    assert "Free memory on device" in launch.log_excerpt
    # The why is in the job's error and the instance's detail, not only in the log.
    assert launch.error.startswith("engine exited during startup (exit code 1): ")
    assert "Free memory on device" in launch.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.ERROR
    assert instance.state_detail == launch.error
    event = EngineEvent.objects.get(instance=instance, kind="launch_failed")
    reason, *last_lines = event.message.splitlines()
    assert reason == launch.error
    assert any("Free memory on device" in line for line in last_lines)


def test_a_switch_that_fits_wakes_first_and_sleeps_the_other_after(
    make_instance: InstanceFactory,
) -> None:
    incoming = make_instance("kappa")
    outgoing = make_instance("lambda")
    assert run_job(incoming, JobKind.LAUNCH).state == JobState.SUCCEEDED
    assert run_job(incoming, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    assert run_job(outgoing, JobKind.LAUNCH).state == JobState.SUCCEEDED
    switch = run_job(incoming, JobKind.SWITCH, sleep=[outgoing.pk], level=2)
    assert switch.state == JobState.SUCCEEDED, switch.error
    steps = [(s["step"], s["instance"]) for s in switch.outcome_detail["steps"]]
    assert steps == [("wake", "kappa"), ("sleep", "lambda")]
    outgoing.refresh_from_db()
    assert (outgoing.state, outgoing.sleep_level) == (InstanceState.SLEEPING, 2)


def test_a_job_keeps_the_version_its_calls_learned(make_instance: InstanceFactory) -> None:
    instance = make_instance("versioned")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    Instance.objects.filter(pk=instance.pk).update(vllm_version="")  # as before any reconcile
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.vllm_version == str(VllmVersion.parse(instance.vllm_version))
    log = Path(instance.log_path)
    asked = log.read_text().count("GET /version")
    assert asked >= 1, "the sleep asked for the version"
    assert run_job(instance, JobKind.WAKE).state == JobState.SUCCEEDED
    assert log.read_text().count("GET /version") == asked, "the wake knew it"
