"""The simulated backend: waits the modelled time and publishes to the simulated GPU dir.

Without ``VLLM_CONSOLE_SIM_GPU_DIR`` nothing is published and the GPU is ``--gpu-total-gib``
large and otherwise empty.
"""

from __future__ import annotations

import os
import time

from emulator.backends import Backend, WakeOutOfMemoryError
from emulator.physics import GIB, MemoryPlan, Physics, StartupError
from engines.hostmem import pinned_bytes
from engines.simgpu import SimGpuDir, SimOutOfMemoryError


def startup_oom_message(free: int, total: int, utilization: float, wanted: int) -> str:
    """vLLM's worker check of free memory against what it wants (0.10+ ``gpu_worker.py``)."""
    return (
        f"Free memory on device ({free / GIB:.2f}/{total / GIB:.2f} GiB) on startup is less "
        f"than desired GPU memory utilization ({utilization}, {wanted / GIB:.2f} GiB). "
        "Decrease GPU memory utilization or reduce GPU memory used by other processes."
    )


class SimBackend(Backend):
    """Time from ``Physics``; memory published per GPU index for the probes to read."""

    def __init__(
        self,
        plan: MemoryPlan,
        physics: Physics,
        *,
        sim_dir: SimGpuDir | None,
        gpu_indexes: tuple[int, ...],
        utilization: float,
    ) -> None:
        super().__init__(plan, physics)
        self._dir = sim_dir
        self._indexes = gpu_indexes
        self._utilization = utilization
        self._pid = os.getpid()

    def _device_bytes(self) -> int:
        return self.plan.overhead + sum(self.plan.tag_bytes(tag) for tag in self.resident)

    def _publish(self, device_bytes: int, *, check: bool) -> None:
        if self._dir is None:
            return
        # Each TP worker pins its shard once, and PyTorch keeps the block after the wake.
        pinned = pinned_bytes(self.plan.weights) * self.plan.tp if self.pinned else 0
        used = dict.fromkeys(self._indexes, device_bytes)
        self._dir.publish(self._pid, used, host_pinned_bytes=pinned, check=check)

    def _allocate_all(self) -> None:
        wanted = self.plan.awake
        others = 0 if self._dir is None else self._dir.used_bytes(self._indexes[0])
        if others + wanted > self.plan.gpu_total:
            free = self.plan.gpu_total - others
            raise StartupError(
                startup_oom_message(free, self.plan.gpu_total, self._utilization, wanted)
            )
        try:
            self._publish(wanted, check=True)
        except SimOutOfMemoryError as error:
            raise StartupError(str(error)) from error

    def _offload_weights(self, first: bool) -> None:
        seconds = self.physics.device_to_host(self.plan.weights)
        if first:
            seconds += self.physics.pin_alloc(self.plan.weights)
        time.sleep(seconds)

    def _unmap(self, tags: set[str]) -> None:
        time.sleep(self.physics.unmap(sum(self.plan.tag_bytes(tag) for tag in tags)))
        self._publish(self._device_bytes(), check=False)

    def _map(self, tag: str) -> None:
        wanted = self._device_bytes() + self.plan.tag_bytes(tag)
        if self._dir is None and wanted > self.plan.gpu_total:
            raise WakeOutOfMemoryError("simulated GPU too small")
        try:
            self._publish(wanted, check=True)
        except SimOutOfMemoryError as error:
            raise WakeOutOfMemoryError(str(error)) from error
        time.sleep(self.physics.map(tag, self.plan.tag_bytes(tag)))

    def _restore_weights(self) -> None:
        time.sleep(self.physics.host_to_device(self.plan.weights))
        # The host copy is dropped once the weights are back: publish the pinned bytes gone.
        self.backed_up = False
        self._publish(self._device_bytes(), check=False)

    def _reload_weights(self) -> None:
        # Every worker reads its shard from the same disk: the whole model at disk speed.
        time.sleep(self.physics.disk_read(self.plan.weights * self.plan.tp))

    def gpu_used_bytes(self) -> int:
        if self._dir is None:
            return self._device_bytes()
        return self._dir.used_bytes(self._indexes[0])

    def close(self) -> None:
        if self._dir is not None:
            self._dir.forget(self._pid)
