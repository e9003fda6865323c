"""On a real GPU: the emulator's CUDA mode frees and restores memory as NVML and psutil see it.

Marked ``gpu``; skipped with the reason where PyTorch, CUDA or NVML is missing. Sizes are
small (2 GiB of weights, 2 GiB of KV cache) so that the module runs in seconds on an H100.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from engines.client import EngineClient
from engines.logparser import EventKind
from engines.probes import NvmlProbe, process_tree_rss
from tests.conftest import EmulatorFactory
from tests.engines.conftest import completion_text, events
from tests.support.emulator import EmulatorProcess

GIB = 1 << 30
WEIGHTS = 2 * GIB
KV_CACHE = 2 * GIB
# NVML counts in pages and the CUDA context may grow a little: 2% of what moves.
SLACK = 0.02 * (WEIGHTS + KV_CACHE)


def _no_cuda_reason() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed"
    import torch

    return None if torch.cuda.is_available() else "PyTorch sees no CUDA device"


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_no_cuda_reason() is not None, reason=str(_no_cuda_reason())),
]


def _gpu_used() -> int:
    """GPU 0 as NVML sees it: every process, CUDA contexts included."""
    return NvmlProbe().read()[0].used_bytes


@pytest.fixture
def cuda_emulator(emulator_factory: EmulatorFactory) -> Iterator[EmulatorProcess]:
    args = ("--device", "cuda", "--enable-sleep-mode", "--startup-seconds", "0")
    sizes = ("--weights-gib", str(WEIGHTS / GIB), "--kv-cache-gib", str(KV_CACHE / GIB))
    with emulator_factory(*args, *sizes, "--time-scale", "0.01", ready_timeout=120.0) as emu:
        yield emu


@pytest.fixture
def client(cuda_emulator: EmulatorProcess) -> Iterator[EngineClient]:
    with EngineClient(cuda_emulator.url) as engine_client:
        yield engine_client


def test_level_one_sleep_frees_what_the_log_says(
    cuda_emulator: EmulatorProcess, client: EngineClient
) -> None:
    before = _gpu_used()
    client.sleep(1)
    freed = before - _gpu_used()
    (line,) = events(cuda_emulator, EventKind.SLEEP_FREED)
    assert line.freed_gib is not None
    assert abs(freed - WEIGHTS - KV_CACHE) <= SLACK
    assert abs(freed - line.freed_gib * GIB) <= SLACK


def test_level_one_wake_restores_gpu_memory(client: EngineClient) -> None:
    before = _gpu_used()
    client.sleep(1)
    client.wake()
    assert abs(_gpu_used() - before) <= SLACK


def test_level_one_sleep_backs_weights_up_in_pinned_host_memory(
    cuda_emulator: EmulatorProcess, client: EngineClient
) -> None:
    before = process_tree_rss(cuda_emulator.process.pid)
    client.sleep(1)
    grown = process_tree_rss(cuda_emulator.process.pid) - before
    assert grown >= WEIGHTS * 0.98


def test_level_two_sleep_keeps_no_host_copy_and_wake_reloads(
    cuda_emulator: EmulatorProcess, client: EngineClient
) -> None:
    before_gpu = _gpu_used()
    before_rss = process_tree_rss(cuda_emulator.process.pid)
    answer = completion_text(cuda_emulator)
    client.sleep(2)
    assert abs(before_gpu - _gpu_used() - WEIGHTS - KV_CACHE) <= SLACK
    assert process_tree_rss(cuda_emulator.process.pid) - before_rss < WEIGHTS / 2
    client.wake_level2()
    assert abs(_gpu_used() - before_gpu) <= SLACK
    assert completion_text(cuda_emulator) == answer
