"""Fixtures for jobs: a real control worker and a real agent with one simulated GPU."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.jobs.service import JobRequest, request_job
from console.models import Gpu, Host, Instance, Job, JobState
from engines.launcher import Launcher
from tests.support.console import agent, control_worker
from tests.support.emulator import free_port

HOST = "gpu-test"
# Small and fast engines: 2 GiB of weights, 2 GiB of KV cache, no startup delay.
EMULATOR_ARGS = ["--weights-gib", "2", "--kv-cache-gib", "2", "--startup-seconds", "0",
                 "--pin-alloc-s-per-gib", "0.1"]  # fmt: skip

InstanceFactory = Callable[..., Instance]


@pytest.fixture
def console_host(transactional_db: None, tmp_path: Path) -> Iterator[Host]:
    """A control worker and the agent of host ``gpu-test`` (one 24 GiB simulated GPU)."""
    try:
        with control_worker(tmp_path / "control"), agent(tmp_path / "agent", HOST):
            yield Host.objects.get(name=HOST)
    finally:
        # Engines outlive their agent by design (an agent restart must not stop them).
        engines = Launcher(tmp_path / "agent" / "engines")
        for engine in engines.find_running():
            engines.stop(engine, grace=5)


def create_engine_instance(
    host: Host,
    name: str,
    *extra_args: str,
    weights_gib: float = 2,
    kv_gib: float = 2,
    version: str = "0.11.0",
    **fields: object,
) -> Instance:
    """An instance of a small emulator on ``host``'s GPU 0, to be launched by its agent."""
    args = [*EMULATOR_ARGS, "--emulate-version", version, *extra_args]
    args[1], args[3] = str(weights_gib), str(kv_gib)
    instance = Instance.objects.create(
        name=name,
        served_model_name=f"test/{name}",
        base_url=f"http://127.0.0.1:{free_port()}",
        host=host,
        launch_executable="python -m emulator",
        launch_model=f"test/{name}",
        launch_args=args,
        expected_weights_gib=weights_gib,
        expected_kv_cache_gib=kv_gib,
        **fields,
    )
    instance.gpus.set([Gpu.objects.get(host=host, index=0)])
    return instance


@pytest.fixture
def make_instance(console_host: Host) -> InstanceFactory:
    """``make_instance(name, weights_gib=..., kv_gib=..., version=..., **fields)`` on the
    test host."""

    def make(name: str, **options: Any) -> Instance:
        return create_engine_instance(console_host, name, **options)

    return make


def run_job(instance: Instance, kind: str, timeout: float = 60, **params: object) -> Job:
    """Ask for a job as an operator would and wait until it has finished."""
    job = request_job(JobRequest(instance.pk, kind, dict(params)))
    return wait_finished(job, timeout)


def wait_finished(job: Job, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job.pk} ({job.kind}) still {job.state} after {timeout}s")


def with_evidence(job: Job, timeout: float = 15) -> Job:
    """The job once the figures gathered after it ended are on it (``evidence.attach``)."""
    deadline = time.monotonic() + timeout
    while (job.outcome_detail or {}).get("evidence") == "pending":
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.pk}: no evidence after {timeout}s")
        time.sleep(0.05)
        job.refresh_from_db()
    return job
