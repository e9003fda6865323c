"""An engine killed under the agent is reaped and frees what it held.

A SIGKILLed child stays a zombie until its parent waits for it; the simulated GPU used to
count a zombie's memory, so the next launch on a GPU that cannot hold two engines failed
until the agent restarted. Now the agent reaps its engines every tick, the simulated GPU
ignores zombies, and the relaunch works under the same agent.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from console.models import Host, Instance, InstanceState, JobKind, JobState
from engines.simgpu import SimGpuDir
from tests.jobs.conftest import create_engine_instance, run_job
from tests.reliability.conftest import stop_engines
from tests.support.console import agent, control_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOST = "gpu-reap"
# One engine takes 4.25 GiB (2 of weights, 2 of KV cache, 0.25 of overhead): two do not fit.
GPU_GIB = 6.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def reaped(pid: int) -> bool:
    """Gone from the process table (a zombie is still in it)."""
    try:
        psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    return False


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[tuple[Host, psutil.Process]]:
    try:
        with control_worker(tmp_path / "control"), agent(tmp_path / "agent", HOST, GPU_GIB) as proc:
            yield Host.objects.get(name=HOST), psutil.Process(proc.pid)
    finally:
        stop_engines(tmp_path / "agent")


def test_killed_engine_is_reaped_frees_its_gpu_memory_and_relaunches_under_the_same_agent(
    agent_process: tuple[Host, psutil.Process], tmp_path: Path
) -> None:
    host, agent_proc = agent_process
    gpu = SimGpuDir(tmp_path / "agent" / "simgpu")
    instance = create_engine_instance(host, "reaped")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    pid = instance.pid
    assert pid is not None
    assert psutil.Process(pid).ppid() == agent_proc.pid, "the agent is the engine's parent"
    assert gpu.used_bytes(0) > 4 << 30

    os.kill(pid, signal.SIGKILL)

    wait_until(lambda: reaped(pid), f"engine pid {pid} reaped by the agent")
    wait_until(lambda: gpu.used_bytes(0) == 0, "the simulated GPU freed the dead engine's memory")
    wait_until(
        lambda: Instance.objects.get(pk=instance.pk).state == InstanceState.ERROR,
        "the instance shown in error",
    )
    relaunch = run_job(instance, JobKind.LAUNCH)
    assert relaunch.state == JobState.SUCCEEDED, relaunch.error
    instance.refresh_from_db()
    assert instance.state == InstanceState.AWAKE
    assert instance.pid not in (None, pid)
    assert agent_proc.is_running(), "no agent restart was needed"


def test_simulated_gpu_does_not_count_a_zombies_memory(tmp_path: Path) -> None:
    gpu = SimGpuDir(tmp_path / "sim")
    gpu.create([])
    child = psutil.Popen(["sleep", "60"])
    try:
        gpu.publish(child.pid, {0: 1 << 30}, check=False)
        assert gpu.used_bytes(0) == 1 << 30
        child.kill()
        wait_until(lambda: child.status() == psutil.STATUS_ZOMBIE, "the child became a zombie")
        assert gpu.used_bytes(0) == 0
    finally:
        child.wait(timeout=10)


def test_simulated_gpu_does_not_count_a_reused_pid(tmp_path: Path) -> None:
    gpu = SimGpuDir(tmp_path / "sim")
    gpu.create([])
    gpu.publish(os.getpid(), {0: 1 << 30}, check=False)
    record = next((tmp_path / "sim" / "procs").glob("*.json"))
    published = json.loads(record.read_text())
    published["create_time"] = psutil.Process().create_time() - 3600  # an earlier process's
    record.write_text(json.dumps(published))
    assert gpu.used_bytes(0) == 0
