"""The CUDA backend: real tensors on the GPU, so NVML sees what a real vLLM would hold.

PyTorch is imported here only (it is installed on GPU hosts, not in the console's venv).
Weights are filled with a pattern (what a checkpoint load would write); the pinned host buffers are
allocated on the first level-1 sleep and reused afterwards, as PyTorch's caching host
allocator does for vLLM (the reason a second sleep is much faster than the first).
"""

from __future__ import annotations

import time
from typing import Any

from emulator.backends import Backend, WakeOutOfMemoryError
from emulator.physics import MemoryPlan, Physics, StartupError

_PATTERN = 7


def cuda_total_bytes() -> int:
    """The first visible GPU's size (the KV default fills its utilization)."""
    try:
        import torch
    except ImportError as error:
        raise StartupError(f"--device cuda needs PyTorch: {error}") from error
    if not torch.cuda.is_available():
        raise StartupError("--device cuda: PyTorch sees no CUDA device")
    return int(torch.cuda.mem_get_info(0)[1])


class CudaBackend(Backend):
    """One weights and one KV tensor per TP rank, on ``cuda:0`` .. ``cuda:TP-1``."""

    def __init__(self, plan: MemoryPlan, physics: Physics) -> None:
        super().__init__(plan, physics)
        import torch

        self._torch: Any = torch
        self._devices = [f"cuda:{rank}" for rank in range(plan.tp)]
        self._tensors: dict[str, list[Any]] = {}
        self._host: list[Any] = []

    def _empty(self, nbytes: int, device: str) -> Any:
        return self._torch.empty(nbytes, dtype=self._torch.uint8, device=device)

    def _alloc(self, tag: str) -> None:
        nbytes = self.plan.tag_bytes(tag)
        try:
            self._tensors[tag] = [self._empty(nbytes, device) for device in self._devices]
        except self._torch.cuda.OutOfMemoryError as error:
            self._tensors.pop(tag, None)
            self._torch.cuda.empty_cache()
            raise WakeOutOfMemoryError(str(error)) from error

    def _sync(self) -> None:
        for device in self._devices:
            self._torch.cuda.synchronize(device)

    def _allocate_all(self) -> None:
        try:
            for tag in ("weights", "kv_cache"):
                self._alloc(tag)
        except WakeOutOfMemoryError as error:
            raise StartupError(str(error)) from error
        for tensor in self._tensors["weights"]:
            tensor.fill_(_PATTERN)
        self._sync()

    def _offload_weights(self, first: bool) -> None:
        if first:
            self._host = [
                self._torch.empty(self.plan.weights, dtype=self._torch.uint8, pin_memory=True)
                for _ in self._devices
            ]
        for host, device_tensor in zip(self._host, self._tensors["weights"], strict=True):
            host.copy_(device_tensor, non_blocking=True)
        self._sync()

    def _unmap(self, tags: set[str]) -> None:
        for tag in tags:
            self._tensors.pop(tag, None)
        self._torch.cuda.empty_cache()

    def _map(self, tag: str) -> None:
        self._alloc(tag)

    def _restore_weights(self) -> None:
        for host, device_tensor in zip(self._host, self._tensors["weights"], strict=True):
            device_tensor.copy_(host, non_blocking=True)
        self._sync()

    def _reload_weights(self) -> None:
        # No checkpoint to read: wait the modelled disk time, then write the weights for real.
        time.sleep(self.physics.disk_read(self.plan.weights * self.plan.tp))
        for tensor in self._tensors.get("weights", []):
            tensor.fill_(_PATTERN)
        self._sync()

    def gpu_used_bytes(self) -> int:
        free, total = self._torch.cuda.mem_get_info(self._devices[0])
        return int(total - free)

    def close(self) -> None:
        self._tensors.clear()
        self._host.clear()
        if self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()
