"""``--device cuda``: real tensors on a real GPU (skipped without torch and CUDA)."""

from __future__ import annotations

import importlib.util

import pytest

from engines.logparser import EventKind
from tests.conftest import EmulatorFactory
from tests.engines.conftest import completion_text, events, post


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs PyTorch with a CUDA GPU")
def test_cuda_level_one_and_two_cycles_move_real_memory(emulator_factory: EmulatorFactory) -> None:
    args = ("--device", "cuda", "--enable-sleep-mode", "--weights-gib", "2", "--kv-cache-gib", "2")
    with emulator_factory(*args, "--startup-seconds", "0") as emu:
        answer = completion_text(emu)
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up")
        assert completion_text(emu) == answer
        post(emu, "/sleep?level=2")
        post(emu, "/wake_up")
        post(emu, "/collective_rpc", json={"method": "reload_weights"})
        assert completion_text(emu) == answer
        # What the GPU really holds after each sleep: the CUDA context, not the 4 GiB.
        for freed in events(emu, EventKind.SLEEP_FREED):
            assert (freed.still_in_use_gib or 0) < 1.5
