"""vLLM's own sleep-mode tests (docs/vllm-behaviour.md §8), replayed against the emulator.

``tests/entrypoints/openai/test_sleep.py`` over HTTP; ``tests/basic_correctness/test_cumem.py``
with the simulated GPU's memory standing in for ``torch.cuda.mem_get_info``.
"""

from __future__ import annotations

import pytest

from engines.simgpu import GIB, SimGpuDir
from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, completion_text, is_sleeping, metric, post
from tests.support.emulator import EmulatorProcess

STATE = "vllm:engine_sleep_state"


def _sleep_state(emu: EmulatorProcess) -> tuple[float, float, float]:
    return (
        metric(emu, STATE, sleep_state="awake"),
        metric(emu, STATE, sleep_state="weights_offloaded"),
        metric(emu, STATE, sleep_state="discard_all"),
    )


def _used_gib(sim_dir: SimGpuDir) -> float:
    return sim_dir.used_bytes(0) / GIB


def test_early_test_sleep_with_ignored_form_levels(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.8.5") as emu:
        for level in ("1", "3"):  # form data is never read: both sleep at level 1
            assert post(emu, "/sleep", data={"level": level}).status_code == 200
            assert is_sleeping(emu) is True
            assert post(emu, "/wake_up").status_code == 200
            assert is_sleeping(emu) is False


@pytest.mark.parametrize("version", ["0.11.1", "0.33.0"])
def test_test_sleep_with_sleep_state_metrics(
    emulator_factory: EmulatorFactory, version: str
) -> None:
    with emulator_factory(*FAST, version=version) as emu:
        assert post(emu, "/sleep", params={"level": "1"}).status_code == 200
        assert is_sleeping(emu) is True
        assert _sleep_state(emu) == (0, 1, 0)
        assert post(emu, "/wake_up").status_code == 200
        assert is_sleeping(emu) is False
        assert _sleep_state(emu) == (1, 0, 0)
        post(emu, "/sleep", params={"level": "1"})
        assert post(emu, "/wake_up", params={"tags": ["weights"]}).status_code == 200
        assert is_sleeping(emu) is True
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        assert is_sleeping(emu) is False
        assert metric(emu, STATE, sleep_state="awake") == 1


def test_cumem_end_to_end(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        answer = completion_text(emu)
        post(emu, "/sleep?level=1")
        assert _used_gib(sim_dir) < 1
        post(emu, "/wake_up")
        assert completion_text(emu) == answer
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up", params={"tags": ["weights"]})
        assert _used_gib(sim_dir) < 3
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        assert completion_text(emu) == answer


def test_cumem_deep_sleep(
    emulator_factory: EmulatorFactory, sim_dir: SimGpuDir, sim_env: dict[str, str]
) -> None:
    with emulator_factory(*FAST, env=sim_env) as emu:
        answer = completion_text(emu)
        post(emu, "/sleep?level=2")
        assert _used_gib(sim_dir) < 1
        post(emu, "/wake_up", params={"tags": ["weights"]})
        post(emu, "/collective_rpc", json={"method": "reload_weights"})
        assert _used_gib(sim_dir) < 3
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        assert completion_text(emu) == answer
