"""Host memory: the whole machine, and what one engine's process tree holds.

vLLM's level-1 sleep copies the weights to pinned host RAM, so host memory decides how
many level-1 sleepers fit. In simulated mode the emulator only publishes that pinned
amount (``host_pinned_bytes`` in the sim dir) instead of allocating it, so it is added
to the tree's RSS to show the same figure a real sleeper would.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psutil

from engines.simgpu import SimGpuDir


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


def _sim_pinned_bytes(sim_dir: Path, pids: set[int]) -> int:
    state = SimGpuDir(sim_dir)
    if not state.exists():
        return 0
    return sum(p.host_pinned_bytes for p in state.processes() if p.pid in pids)


def process_tree_rss(pid: int, sim_dir: Path | None = None) -> int:
    """RSS of ``pid`` and all its descendants, plus their simulated pinned bytes.

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
    if sim_dir is not None and pids:
        total += _sim_pinned_bytes(sim_dir, pids)
    return total
