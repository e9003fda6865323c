"""On a real GPU: the NVML probe reads consistent figures, fast, and sees memory being taken.

Marked ``gpu``; skipped with the reason where NVML or a CUDA-capable PyTorch is missing.
"""

from __future__ import annotations

import importlib.util
import statistics
import time

import pynvml
import pytest

from engines.probes import NvmlProbe
from tests.conftest import EmulatorFactory

GIB = 1 << 30


def _no_gpu_reason() -> str | None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return f"NVML unavailable: {error}"
    count = pynvml.nvmlDeviceGetCount()
    pynvml.nvmlShutdown()
    return None if count > 0 else "NVML finds no GPU"


def _no_cuda_reason() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed"
    import torch

    return None if torch.cuda.is_available() else "PyTorch sees no CUDA device"


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_no_gpu_reason() is not None, reason=str(_no_gpu_reason())),
]


def test_nvml_reading_adds_up() -> None:
    (first, *_) = NvmlProbe().read()
    assert first.name.startswith("NVIDIA")
    assert first.total_bytes > 8 * GIB
    assert 0 < first.used_bytes <= first.total_bytes
    # NVML's "used" leaves out the memory the driver reserves, so used + free <= total.
    assert first.used_bytes + first.free_bytes <= first.total_bytes


def test_nvml_read_is_cheap_enough_to_sample_every_100_ms() -> None:
    probe = NvmlProbe()
    probe.read()
    seconds: list[float] = []
    for _ in range(50):
        started = time.perf_counter()
        probe.read()
        seconds.append(time.perf_counter() - started)
    assert statistics.median(seconds) < 0.005


@pytest.mark.skipif(_no_cuda_reason() is not None, reason=str(_no_cuda_reason()))
def test_nvml_sees_the_cuda_emulator_take_its_memory(emulator_factory: EmulatorFactory) -> None:
    probe = NvmlProbe()
    idle = probe.read()[0].used_bytes
    args = ("--device", "cuda", "--startup-seconds", "0", "--weights-gib", "2")
    with emulator_factory(*args, "--kv-cache-gib", "2", ready_timeout=120.0):
        held = probe.read()[0].used_bytes - idle
    # 4 GiB of weights and KV cache, plus the emulator's CUDA context (a few hundred MiB).
    assert 4 * GIB <= held < 6 * GIB
