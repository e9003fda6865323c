"""Device memory published to the simulated GPU directory, and the out-of-memory paths."""

from __future__ import annotations

import os
import signal

import pytest

from engines.logparser import EventKind
from engines.simgpu import GIB, SimGpuDir
from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, events, get, is_sleeping, post

OVERHEAD = GIB // 4  # --overhead-gib default: CUDA context, graphs, NCCL


def _held(sim_dir: SimGpuDir, pid: int) -> tuple[dict[int, int], int]:
    (proc,) = [p for p in sim_dir.processes() if p.pid == pid]
    return proc.used_bytes, proc.host_pinned_bytes


def test_awake_engine_holds_weights_kv_cache_and_overhead(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        assert _held(sim_dir, emu.process.pid) == ({0: 6 * GIB + OVERHEAD}, 0)


@pytest.mark.parametrize(("level", "pinned"), [(1, 2 * GIB), (2, 0)])
def test_sleep_leaves_the_overhead_and_pins_level_one_weights_for_good(
    emulator_factory: EmulatorFactory,
    sim_dir: SimGpuDir,
    sim_env: dict[str, str],
    level: int,
    pinned: int,
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        post(emu, f"/sleep?level={level}")
        assert _held(sim_dir, emu.process.pid) == ({0: OVERHEAD}, pinned)
        post(emu, "/wake_up")
        # PyTorch's host allocator keeps the pinned block after the wake (measured on H100).
        assert _held(sim_dir, emu.process.pid) == ({0: 6 * GIB + OVERHEAD}, pinned)


def test_pinned_weights_are_rounded_up_to_a_power_of_two(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, "--weights-gib", "3", env=sim_env) as emu:
        post(emu, "/sleep?level=1")
        assert _held(sim_dir, emu.process.pid)[1] == 4 * GIB


def test_sigterm_frees_the_gpu_and_exits_zero(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        os.kill(emu.process.pid, signal.SIGTERM)
        assert emu.process.wait(timeout=15) == 0
        assert not (sim_dir.path / "procs" / f"{emu.process.pid}.json").exists()
        assert "Finished server process" in emu.log_text()


def test_start_is_refused_when_the_gpu_is_full(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    sim_dir.publish(os.getpid(), {0: 12 * GIB})
    with (
        pytest.raises(RuntimeError, match="Free memory on device"),
        emulator_factory(*FAST, env=sim_env),
    ):
        pass


def test_wake_without_room_is_a_cuda_oom_and_stays_asleep(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        post(emu, "/sleep?level=1")
        sim_dir.publish(os.getpid(), {0: 12 * GIB})  # another process takes the room
        answer = post(emu, "/wake_up")
        assert answer.status_code == 500
        assert "CUDA Error: out of memory at" in answer.json()["error"]["message"]
        assert is_sleeping(emu) is True
        assert len(events(emu, EventKind.WAKE_OOM)) == 1
        sim_dir.forget(os.getpid())
        assert post(emu, "/wake_up").status_code == 200
        assert is_sleeping(emu) is False


def test_tensor_parallel_splits_over_the_visible_gpus(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    env = sim_env | {"CUDA_VISIBLE_DEVICES": "0,1"}
    with emulator_factory(*FAST, "--tensor-parallel-size", "2", env=env) as emu:
        each = 3 * GIB + OVERHEAD
        assert _held(sim_dir, emu.process.pid) == ({0: each, 1: each}, 0)
        post(emu, "/sleep?level=1")
        log = emu.log_text()
        assert f"(Worker_TP0 pid={emu.process.pid})" in log
        assert f"(Worker_TP1 pid={emu.process.pid})" in log
        assert get(emu, "/health").status_code == 200
