"""Memory probes: GPUs (NVML or simulated) and host RAM, cheap enough to run every second."""

from engines.probes.gpu import gpu_probe
from engines.probes.host import HostReading, process_tree_rss, read_host
from engines.probes.nvml import NvmlProbe
from engines.probes.readings import GpuProbe, GpuProcess, GpuReading
from engines.probes.sim import SimGpuProbe

__all__ = [
    "GpuProbe",
    "GpuProcess",
    "GpuReading",
    "HostReading",
    "NvmlProbe",
    "SimGpuProbe",
    "gpu_probe",
    "process_tree_rss",
    "read_host",
]
