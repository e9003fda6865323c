"""What a GPU probe reports: one reading per device, with the processes holding memory."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GpuProcess:
    """Device memory one process holds on one GPU.

    ``used_bytes`` is None when the driver cannot say (NVML_VALUE_NOT_AVAILABLE, e.g.
    under Windows WDDM or without the rights to see another container's processes).
    ``pid`` is in the driver's pid namespace: inside a container it may be the host's pid.
    """

    pid: int
    used_bytes: int | None


@dataclass(frozen=True)
class GpuReading:
    """One device at one instant. ``utilization_pct`` is None when not reported."""

    index: int
    uuid: str
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    utilization_pct: int | None
    processes: tuple[GpuProcess, ...]


class GpuProbe(Protocol):
    """Anything that can read the GPUs of this host; cheap enough to call every second.

    Chosen once per agent (NVML, or the simulated GPUs of a machine without any): what an
    engine launched here must be told to use the same GPUs, and what host memory it holds
    beyond its RSS, are the probe's to say, so production never touches simulation paths.
    """

    def read(self) -> list[GpuReading]:
        """Every device now; [] when there is nothing to read (never raises)."""
        ...

    def launch_env(self) -> dict[str, str]:
        """Environment an engine launched on this host needs to use these GPUs."""
        ...

    def pinned_host_bytes(self, pids: Collection[int]) -> int:
        """Pinned host memory ``pids`` hold that their RSS does not show."""
        ...
