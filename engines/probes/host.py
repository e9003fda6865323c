"""Host memory: the whole machine, and what one engine's process tree holds.

vLLM's level-1 sleep copies the weights to pinned host RAM, so host memory decides how
many level-1 sleepers fit. A real sleeper's backup is in its RSS; a simulated one only
publishes it, and the GPU probe that reads simulated GPUs adds it (``pinned_host_bytes``),
so the figure is the one a real sleeper would show.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil

from engines.probes.readings import GpuProbe


@dataclass(frozen=True)
class HostReading:
    """RAM and swap of this host, in bytes (psutil's definitions of used and available)."""

    total_bytes: int
    used_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_used_bytes: int


def read_host() -> HostReading:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return HostReading(
        total_bytes=int(memory.total),
        used_bytes=int(memory.used),
        available_bytes=int(memory.available),
        swap_total_bytes=int(swap.total),
        swap_used_bytes=int(swap.used),
    )


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def process_tree_rss(pid: int, probe: GpuProbe | None = None) -> int:
    """RSS of ``pid`` and all its descendants, plus the pinned bytes ``probe`` knows they
    hold beyond it.

    0 when ``pid`` is gone; children that vanish while being read are skipped. RSS counts
    shared pages once per process, so the sum is an upper bound; it is used because the
    exact alternative (PSS from smaps) costs milliseconds per process every second.
    """
    total = 0
    pids: set[int] = set()
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += int(process.memory_info().rss)
            pids.add(process.pid)
    if probe is not None and pids:
        total += probe.pinned_host_bytes(pids)
    return total
