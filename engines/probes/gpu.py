"""Choose the GPU probe for this host: simulated GPUs when a state dir is given, else NVML."""

from __future__ import annotations

from pathlib import Path

from engines.probes.nvml import NvmlProbe
from engines.probes.readings import GpuProbe
from engines.probes.sim import SimGpuProbe


def gpu_probe(sim_dir: Path | None) -> GpuProbe:
    """``SimGpuProbe(sim_dir)`` when ``sim_dir`` is set, else ``NvmlProbe()``."""
    if sim_dir is not None:
        return SimGpuProbe(sim_dir)
    return NvmlProbe()
