"""GPU probes: simulated GPUs from a real state directory, and NVML where it exists."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pynvml
import pytest

from engines.probes import GpuProcess, NvmlProbe, SimGpuProbe, gpu_probe
from engines.simgpu import GIB, SIM_GPU_DIR_ENV, SimGpu, SimGpuDir


def nvml_unavailable_reason() -> str | None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return str(error)
    try:
        return None if pynvml.nvmlDeviceGetCount() > 0 else "no GPU found"
    finally:
        pynvml.nvmlShutdown()


@pytest.fixture
def live_pid() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
def sim(tmp_path: Path) -> SimGpuDir:
    state = SimGpuDir(tmp_path / "sim")
    state.create(
        [SimGpu(0, "GPU-sim-0", "Sim H100", 80 * GIB), SimGpu(1, "GPU-sim-1", "Sim H100", 80 * GIB)]
    )
    return state


def test_sim_probe_reports_published_memory_per_gpu(sim: SimGpuDir, live_pid: int) -> None:
    sim.publish(live_pid, {0: 30 * GIB, 1: 10 * GIB})
    first, second = SimGpuProbe(sim.path).read()
    assert (first.index, first.uuid, first.name) == (0, "GPU-sim-0", "Sim H100")
    assert (first.used_bytes, first.free_bytes, first.total_bytes) == (30 * GIB, 50 * GIB, 80 * GIB)
    assert first.processes == (GpuProcess(live_pid, 30 * GIB),)
    assert second.used_bytes == 10 * GIB
    assert first.utilization_pct is None


def test_sim_probe_ignores_processes_that_exited(sim: SimGpuDir, live_pid: int) -> None:
    sim.publish(live_pid, {0: 4 * GIB})
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    sim.publish(int(exited.stdout), {0: 20 * GIB}, check=False)
    reading = SimGpuProbe(sim.path).read()[0]
    assert reading.used_bytes == 4 * GIB
    assert [process.pid for process in reading.processes] == [live_pid]


def test_sim_probe_of_a_dir_not_created_yet_reads_nothing(tmp_path: Path) -> None:
    assert SimGpuProbe(tmp_path / "absent").read() == []


def test_gpu_probe_picks_sim_with_a_dir_and_nvml_without(tmp_path: Path) -> None:
    assert isinstance(gpu_probe(tmp_path), SimGpuProbe)
    assert isinstance(gpu_probe(None), NvmlProbe)


def test_engines_launched_beside_nvml_are_told_nothing() -> None:
    assert NvmlProbe().launch_env() == {}


def test_engines_launched_beside_simulated_gpus_are_told_where_to_publish(
    tmp_path: Path,
) -> None:
    assert SimGpuProbe(tmp_path).launch_env() == {SIM_GPU_DIR_ENV: str(tmp_path)}


def test_unavailable_nvml_warns_once_and_reads_nothing(caplog: pytest.LogCaptureFixture) -> None:
    if nvml_unavailable_reason() is None:
        pytest.skip("NVML is available on this host")
    probe = NvmlProbe()
    with caplog.at_level(logging.WARNING, logger="engines.probes.nvml"):
        readings = [probe.read() for _ in range(3)]
    assert readings == [[], [], []]
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["NVML unavailable"]


@pytest.mark.gpu
def test_nvml_reads_every_gpu() -> None:
    reason = nvml_unavailable_reason()
    if reason is not None:
        pytest.skip(f"NVML unavailable: {reason}")
    readings = NvmlProbe().read()
    pynvml.nvmlInit()
    assert len(readings) == pynvml.nvmlDeviceGetCount()
    for reading in readings:
        assert reading.uuid.startswith(("GPU-", "MIG-"))
        assert reading.total_bytes > 0
        assert 0 <= reading.used_bytes <= reading.total_bytes
        assert reading.free_bytes <= reading.total_bytes
