"""The launcher driving the real emulator: start, readiness, stop, adoption after a restart."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from engines.launcher import EngineDiedError, Launcher, LaunchSpec
from engines.probes import GpuProcess, SimGpuProbe
from engines.simgpu import GIB, SimGpu, SimGpuDir
from tests.support.emulator import free_port

SMALL = ("--startup-seconds", "0", "--weights-gib", "1", "--kv-cache-gib", "1")
OVERHEAD_GIB = 0.25  # the emulator's default --overhead-gib


def emulator_spec(name: str = "opt", *extra: str, **overrides: object) -> LaunchSpec:
    fields: dict[str, object] = {
        "executable": (sys.executable, "-m", "emulator"),
        "model": "facebook/opt-125m",
        "port": free_port(),
        "name": name,
        "served_model_name": name,
        "extra_args": (*SMALL, *extra),
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path / "run", poll_interval=0.05)
    yield launcher
    for engine in launcher.find_running():
        launcher.stop(engine, grace=5)


@pytest.fixture
def sim(tmp_path: Path) -> SimGpuDir:
    state = SimGpuDir(tmp_path / "sim")
    state.create([SimGpu(0, "GPU-sim-0", "Sim", 4 * GIB), SimGpu(1, "GPU-sim-1", "Sim", 4 * GIB)])
    return state


def test_emulator_becomes_ready_with_its_startup_figures(launcher: Launcher) -> None:
    engine = launcher.start(emulator_spec())
    readiness = launcher.wait_ready(engine, timeout=30)
    assert 0 < readiness.seconds_to_ready < 30
    assert readiness.model_loaded_gib == pytest.approx(1.0, abs=0.01)
    assert readiness.model_load_seconds is not None
    assert readiness.kv_cache_tokens is not None
    assert readiness.kv_cache_tokens > 0
    assert readiness.url is not None
    assert readiness.url.endswith(f":{engine.port}")
    assert readiness.base_url == f"http://127.0.0.1:{engine.port}"
    assert httpx.get(f"{readiness.base_url}/health", timeout=2).status_code == 200


def test_seconds_to_ready_counts_from_the_spawn(launcher: Launcher) -> None:
    before = time.monotonic()
    engine = launcher.start(emulator_spec())
    readiness = launcher.wait_ready(engine, timeout=30)
    assert 0 < readiness.seconds_to_ready <= time.monotonic() - before


def test_emulator_gets_dev_mode_from_the_launcher(launcher: Launcher) -> None:
    engine = launcher.start(emulator_spec())
    launcher.wait_ready(engine, timeout=30)
    answer = httpx.get(f"{engine.base_url}/is_sleeping", timeout=2)
    assert answer.json() == {"is_sleeping": False}


def test_stopped_emulator_frees_its_port(launcher: Launcher) -> None:
    engine = launcher.start(emulator_spec())
    launcher.wait_ready(engine, timeout=30)
    launcher.stop(engine, grace=10)
    assert not psutil.pid_exists(engine.pid)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{engine.base_url}/health", timeout=2)


def test_restarted_launcher_adopts_a_running_emulator(launcher: Launcher, tmp_path: Path) -> None:
    engine = launcher.start(emulator_spec())
    launcher.wait_ready(engine, timeout=30)
    adopted = Launcher(tmp_path / "run").find_running()
    assert adopted == [engine]
    readiness = Launcher(tmp_path / "run").wait_ready(adopted[0], timeout=10)
    assert readiness.model_loaded_gib == pytest.approx(1.0, abs=0.01)


def test_emulator_with_an_unknown_flag_dies_with_its_usage_error(launcher: Launcher) -> None:
    engine = launcher.start(emulator_spec("bad", "--no-such-flag"))
    with pytest.raises(EngineDiedError) as error:
        launcher.wait_ready(engine, timeout=30)
    assert error.value.exit_code == 2  # argparse's usage error
    assert any("--no-such-flag" in line for line in error.value.last_lines)


def test_emulator_on_a_simulated_gpu_shows_in_the_probe(launcher: Launcher, sim: SimGpuDir) -> None:
    env = {"VLLM_CONSOLE_SIM_GPU_DIR": str(sim.path)}
    engine = launcher.start(emulator_spec(gpu_ids=(1,), env=env))
    launcher.wait_ready(engine, timeout=30)
    idle, busy = SimGpuProbe(sim.path).read()
    expected = int((1 + 1 + OVERHEAD_GIB) * GIB)
    assert idle.processes == ()
    assert busy.processes == (GpuProcess(engine.pid, expected),)


def test_a_launcher_for_simulated_gpus_tells_every_emulator_where_to_publish(
    tmp_path: Path, sim: SimGpuDir
) -> None:
    probe = SimGpuProbe(sim.path)
    launcher = Launcher(tmp_path / "sim-run", poll_interval=0.05, env=probe.launch_env())
    engine = launcher.start(emulator_spec(gpu_ids=(1,)))
    try:
        launcher.wait_ready(engine, timeout=30)
        assert [process.pid for process in probe.read()[1].processes] == [engine.pid]
    finally:
        launcher.stop(engine, grace=5)


def test_emulator_that_does_not_fit_dies_with_the_out_of_memory_line(
    launcher: Launcher, sim: SimGpuDir
) -> None:
    env = {"VLLM_CONSOLE_SIM_GPU_DIR": str(sim.path)}
    first = launcher.start(emulator_spec("first", env=env))
    launcher.wait_ready(first, timeout=30)
    second = launcher.start(emulator_spec("second", env=env))
    with pytest.raises(EngineDiedError) as error:
        launcher.wait_ready(second, timeout=30)
    assert error.value.exit_code not in (None, 0)
    assert any("Free memory on device" in line for line in error.value.last_lines)
