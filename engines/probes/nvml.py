"""GPU readings from NVML (the library behind nvidia-smi), through nvidia-ml-py.

NVML is initialised once, on the first read. A host without NVML (no library, no driver,
no device) logs one warning and then reads as having no GPUs, forever: the probe runs
every second and must neither raise nor flood the log. One query costs about 9 µs.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

import pynvml

from engines.probes.readings import GpuProcess, GpuReading

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Device:
    index: int
    handle: object
    uuid: str
    name: str


def _text(value: str | bytes) -> str:
    # nvidia-ml-py before 11.5 returned bytes for names and UUIDs.
    return value.decode() if isinstance(value, bytes) else value


def _open_devices() -> list[_Device]:
    """Initialise NVML and list the devices; raise pynvml.NVMLError or LookupError."""
    pynvml.nvmlInit()
    count = int(pynvml.nvmlDeviceGetCount())
    if count == 0:
        raise LookupError("no GPU found")
    devices: list[_Device] = []
    for index in range(count):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
        devices.append(_Device(index, handle, uuid, _text(pynvml.nvmlDeviceGetName(handle))))
    return devices


def _utilization(handle: object) -> int | None:
    try:
        return int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except pynvml.NVMLError:
        return None  # NVML_ERROR_NOT_SUPPORTED on some boards and on MIG instances


def _processes(handle: object) -> tuple[GpuProcess, ...]:
    """Compute and graphics processes, one entry per pid (a process may be in both lists)."""
    used: dict[int, int | None] = {}
    for query in (
        pynvml.nvmlDeviceGetComputeRunningProcesses,
        pynvml.nvmlDeviceGetGraphicsRunningProcesses,
    ):
        try:
            found = query(handle)
        except pynvml.NVMLError:
            continue
        for info in found:
            # nvidia-ml-py turns NVML_VALUE_NOT_AVAILABLE into None.
            amount = None if info.usedGpuMemory is None else int(info.usedGpuMemory)
            known = used.get(int(info.pid))
            used[int(info.pid)] = amount if known is None else max(known, amount or 0)
    return tuple(GpuProcess(pid, amount) for pid, amount in sorted(used.items()))


def _read(device: _Device) -> GpuReading:
    memory = pynvml.nvmlDeviceGetMemoryInfo(device.handle)
    return GpuReading(
        index=device.index,
        uuid=device.uuid,
        name=device.name,
        total_bytes=int(memory.total),
        used_bytes=int(memory.used),
        free_bytes=int(memory.free),
        utilization_pct=_utilization(device.handle),
        processes=_processes(device.handle),
    )


class NvmlProbe:
    """Reads every NVIDIA GPU of this host; reads [] where NVML is unavailable."""

    def __init__(self) -> None:
        self._devices: list[_Device] | None = None
        self._warned: set[str] = set()

    def read(self) -> list[GpuReading]:
        readings: list[GpuReading] = []
        for device in self._ensure_devices():
            try:
                readings.append(_read(device))
            except pynvml.NVMLError as error:
                # e.g. NVML_ERROR_GPU_IS_LOST: skip the device, say so once.
                self._warn_once(f"GPU {device.index} unreadable: {error}")
        return readings

    def launch_env(self) -> dict[str, str]:
        return {}  # vLLM finds NVIDIA GPUs itself

    def pinned_host_bytes(self, pids: Collection[int]) -> int:
        return 0  # a real engine's pinned weight backup is in its RSS

    def _ensure_devices(self) -> list[_Device]:
        if self._devices is None:
            try:
                self._devices = _open_devices()
            except (pynvml.NVMLError, LookupError) as error:
                self._warn_once(f"NVML unavailable: {error}")
                self._devices = []
        return self._devices

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)
