"""GPU readings from a simulated GPU state directory (``engines.simgpu``).

Emulators publish the device memory they hold there, so a machine without NVIDIA
hardware shows the same per-device and per-process figures NVML would.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from engines.probes.readings import GpuProcess, GpuReading
from engines.simgpu import SIM_GPU_DIR_ENV, SimGpu, SimGpuDir, SimProcess

logger = logging.getLogger(__name__)


def _reading(gpu: SimGpu, processes: list[SimProcess]) -> GpuReading:
    holders = tuple(
        GpuProcess(process.pid, process.used_bytes[gpu.index])
        for process in processes
        if gpu.index in process.used_bytes
    )
    used = sum(holder.used_bytes or 0 for holder in holders)
    return GpuReading(
        index=gpu.index,
        uuid=gpu.uuid,
        name=gpu.name,
        total_bytes=gpu.total_bytes,
        used_bytes=used,
        free_bytes=max(0, gpu.total_bytes - used),
        utilization_pct=None,  # the simulation models memory, not compute load
        processes=holders,
    )


class SimGpuProbe:
    """Reads the simulated GPUs of ``path``; [] until the directory has been created."""

    def __init__(self, path: Path) -> None:
        self._dir = SimGpuDir(path)
        self._warned = False

    def read(self) -> list[GpuReading]:
        if not self._dir.exists():
            return []
        try:
            gpus = self._dir.gpus()
            processes = self._dir.processes()
        except (OSError, ValueError, KeyError, TypeError) as error:
            if not self._warned:
                self._warned = True
                logger.warning("simulated GPU dir %s unreadable: %s", self._dir.path, error)
            return []
        return [_reading(gpu, processes) for gpu in gpus]

    def launch_env(self) -> dict[str, str]:
        """An emulator publishes the memory it holds where this probe reads it."""
        return {SIM_GPU_DIR_ENV: str(self._dir.path)}

    def pinned_host_bytes(self, pids: Collection[int]) -> int:
        """The pinned backup simulated level-1 sleepers publish (they do not allocate it)."""
        if not self._dir.exists():
            return 0
        try:
            processes = self._dir.processes()
        except (OSError, ValueError, KeyError, TypeError):
            return 0  # read() says so once
        return sum(process.host_pinned_bytes for process in processes if process.pid in pids)
