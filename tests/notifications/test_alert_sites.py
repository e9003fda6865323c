"""Each event is raised where the console decides it, once, with the figures behind it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.jobs import fit, ledger
from console.jobs.lifecycle import terminate
from console.jobs.outcome import JobOutcome
from console.jobs.service import JobRefusedError
from console.jobs.sleepwake import sleep_instance
from console.models import (
    Gpu,
    Host,
    Instance,
    InstanceState,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Subject,
)
from console.notifications import watch
from tests.console.conftest import create_instance, create_job
from tests.notifications.conftest import Raised

pytestmark = pytest.mark.django_db
GIB = 1 << 30
S = InstanceState
Capture = Callable[..., Any]


@pytest.fixture
def gpu(db: None) -> Gpu:
    host = Host.objects.create(name="alert-host", last_heartbeat=timezone.now())
    return Gpu.objects.create(host=host, index=0, total_bytes=24 * GIB)


def on_gpu(gpu: Gpu, name: str, state: InstanceState) -> Instance:
    level = 1 if state == S.SLEEPING else None
    instance = create_instance(name=name, state=state, expected_weights_gib=8,
                               expected_kv_cache_gib=6, sleep_level=level)  # fmt: skip
    instance.gpus.set([gpu])
    return instance


def gpu_sample(gpu: Gpu, used_gib: float) -> MemorySample:
    return MemorySample(at=timezone.now(), subject=Subject.GPU, host=gpu.host, gpu=gpu,
                        used_bytes=int(used_gib * GIB), total_bytes=gpu.total_bytes)  # fmt: skip


def test_a_failed_job_raises_job_failed_with_its_error(
    raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    job = create_job(create_instance(name="llama"), JobKind.WAKE, state=JobState.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        terminate(job.pk, JobState.FAILED, "engine answered 500")
    ((kind, summary, details),) = raised
    assert kind == "job_failed"
    assert summary == f"wake job {job.pk} of llama failed: engine answered 500"
    assert details == {"job": job.pk, "kind": "wake", "instance": "llama",
                       "error": "engine answered 500"}  # fmt: skip


def test_a_job_that_succeeds_raises_nothing(
    raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    job = create_job(create_instance(), JobKind.WAKE, state=JobState.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        terminate(job.pk, JobState.SUCCEEDED)
    assert raised == []


def test_a_wake_that_does_not_fit_raises_job_refused_with_the_numbers(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    on_gpu(gpu, "awake", S.AWAKE)
    target = on_gpu(gpu, "target", S.SLEEPING)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(JobRefusedError):
        ledger.reserve(target, {S.SLEEPING}, S.WAKING)
    ((kind, summary, details),) = raised
    assert kind == "job_refused"
    assert summary.startswith("target needs 14.0 GiB on GPU 0 but only 10.0 GiB is free")
    assert details == {"instance": "target", "gpu": 0, "needed_gib": 14.0, "free_gib": 10.0,
                       "total_gib": 24.0, "used_gib": 14.0, "promised_gib": 0.0}  # fmt: skip
    assert Instance.objects.get(pk=target.pk).state == S.SLEEPING


def test_a_wake_that_fits_raises_nothing(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    target = on_gpu(gpu, "target", S.SLEEPING)
    with django_capture_on_commit_callbacks(execute=True):
        ledger.reserve(target, {S.SLEEPING}, S.WAKING)
    assert raised == []


def test_a_host_gone_quiet_raises_host_offline_once_per_outage(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    host = gpu.host
    host.last_heartbeat = timezone.now() - timedelta(minutes=5)
    host.save()
    with django_capture_on_commit_callbacks(execute=True):
        watch.offline_hosts(timezone.now())
        watch.offline_hosts(timezone.now())
    ((kind, summary, details),) = raised
    assert kind == "host_offline"
    assert summary.startswith("host alert-host is offline")
    assert details["seconds_since"] >= 300


def test_a_host_back_and_gone_again_is_a_second_outage(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    host = gpu.host
    with django_capture_on_commit_callbacks(execute=True):
        for minutes in (10, 5):
            host.last_heartbeat = timezone.now() - timedelta(minutes=minutes)
            host.save()
            watch.offline_hosts(timezone.now())
    assert [kind for kind, _, _ in raised] == ["host_offline", "host_offline"]


def test_an_online_host_raises_nothing(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        watch.offline_hosts(timezone.now())
    assert raised == []


def test_gpu_memory_over_the_threshold_raises_memory_near_full_once_per_quiet_period(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.CONSOLE_ALERT_MEMORY_PERCENT = 95.0
    with django_capture_on_commit_callbacks(execute=True):
        watch.full_memory([gpu_sample(gpu, 23.0)])
        watch.full_memory([gpu_sample(gpu, 23.5)])
    ((kind, summary, details),) = raised
    assert kind == "memory_near_full"
    assert summary == "alert-host GPU 0: 95.8% used (threshold 95%)"
    assert (details["used_gib"], details["total_gib"]) == (23.0, 24.0)


def test_memory_under_the_threshold_raises_nothing(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.CONSOLE_ALERT_MEMORY_PERCENT = 95.0
    host_ram = MemorySample(at=timezone.now(), subject=Subject.HOST, host=gpu.host,
                            used_bytes=10 * GIB, total_bytes=64 * GIB)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        watch.full_memory([gpu_sample(gpu, 20.0), host_ram])
    assert raised == []


def test_host_ram_over_the_threshold_is_named_as_such(
    gpu: Gpu, raised: Raised, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.CONSOLE_ALERT_MEMORY_PERCENT = 90.0
    host_ram = MemorySample(at=timezone.now(), subject=Subject.HOST, host=gpu.host,
                            used_bytes=60 * GIB, total_bytes=64 * GIB)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        watch.full_memory([host_ram])
    ((_, summary, details),) = raised
    assert summary == "alert-host host RAM: 93.8% used (threshold 90%)"
    assert details["memory"] == "host RAM"


def wake_job(seconds: float) -> Job:
    steps = [{"step": "wake", "instance": "llama", "call_seconds": 0.5, "engine_seconds": seconds}]
    return create_job(create_instance(name="llama"), JobKind.WAKE, state=JobState.SUCCEEDED,
                      outcome_detail={"steps": steps})  # fmt: skip


def test_a_wake_over_the_threshold_raises_slow_wake(
    raised: Raised, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.CONSOLE_ALERT_SLOW_WAKE_SECONDS = 5.0
    job = wake_job(7.25)
    with django_capture_on_commit_callbacks(execute=True):
        watch.slow_wakes(job.pk)
    ((kind, summary, details),) = raised
    assert kind == "slow_wake"
    assert summary == f"llama took 7.25 s to wake (threshold 5 s; job {job.pk})"
    assert details["seconds"] == 7.25


def test_a_wake_under_the_threshold_raises_nothing(
    raised: Raised, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.CONSOLE_ALERT_SLOW_WAKE_SECONDS = 5.0
    with django_capture_on_commit_callbacks(execute=True):
        watch.slow_wakes(wake_job(1.5).pk)
    assert raised == []


def test_an_alert_of_a_rolled_back_change_never_leaves(raised: Raised) -> None:
    job = create_job(create_instance(), JobKind.WAKE, state=JobState.RUNNING)
    terminate(job.pk, JobState.FAILED, "x")  # the test's transaction is rolled back
    assert raised == []


def test_a_level_1_sleep_without_host_ram_raises_job_refused_with_the_numbers(
    raised: Raised, django_capture_on_commit_callbacks: Capture
) -> None:
    ram = fit.HostRam(weights=10 * GIB, pinned=12 * GIB, measured=True, available=14 * GIB,
                      reserved=0, headroom=4 * GIB)  # fmt: skip
    verdict = fit.check_host_ram_fits("llama", ram)
    instance = create_instance(name="llama", state=S.AWAKE)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(JobRefusedError):
        sleep_instance(instance, 1, JobOutcome(), host_ram=verdict)
    ((kind, summary, details),) = raised
    assert kind == "job_refused"
    assert summary.startswith("level-1 sleep of llama")
    assert details == {"instance": "llama", "memory": "host RAM", "needed_gib": 12.0,
                       "free_gib": 10.0, "available_gib": 14.0, "promised_gib": 0.0,
                       "headroom_gib": 4.0}  # fmt: skip
    assert Instance.objects.get(pk=instance.pk).state == S.AWAKE
