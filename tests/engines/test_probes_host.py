"""Host memory readings and the memory held by a real process tree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engines.probes import NvmlProbe, SimGpuProbe, process_tree_rss, read_host
from engines.simgpu import GIB, SimGpu, SimGpuDir

MIB = 1 << 20
ALLOCATION = 64 * MIB

# A parent that starts a child holding ALLOCATION bytes, prints the child's pid, waits.
TREE = f"""
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", "import sys, time; b = b'x' * {ALLOCATION}; print('ok', flush=True); "
     "time.sleep(60)"],
    stdout=subprocess.PIPE, text=True,
)
child.stdout.readline()
print(child.pid, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    """(parent pid, child pid) of a live two-process tree; the child holds 64 MiB."""
    parent = subprocess.Popen(
        [sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    yield parent.pid, child_pid
    psutil.Process(child_pid).kill()
    parent.kill()
    parent.wait(timeout=10)


def test_host_reading_is_sane() -> None:
    reading = read_host()
    assert reading.total_bytes > reading.used_bytes > 0
    assert 0 < reading.available_bytes <= reading.total_bytes
    assert reading.swap_used_bytes <= reading.swap_total_bytes


def test_tree_rss_counts_the_children(tree: tuple[int, int]) -> None:
    parent, _ = tree
    parent_alone = psutil.Process(parent).memory_info().rss
    assert process_tree_rss(parent) >= parent_alone + ALLOCATION


def test_tree_rss_of_a_gone_process_is_zero() -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert process_tree_rss(int(finished.stdout)) == 0


def test_tree_rss_adds_simulated_pinned_bytes_of_the_tree(
    tree: tuple[int, int], tmp_path: Path
) -> None:
    parent, child = tree
    sim = SimGpuDir(tmp_path / "sim")
    sim.create([SimGpu(0, "GPU-sim-0", "Simulated GPU", 80 * GIB)])
    sim.publish(child, {0: GIB}, host_pinned_bytes=3 * GIB)
    sim.publish(psutil.Process().pid, {0: GIB}, host_pinned_bytes=5 * GIB)  # not in the tree
    with_pinned = process_tree_rss(parent, SimGpuProbe(sim.path))
    without = process_tree_rss(parent)
    assert abs(with_pinned - without - 3 * GIB) < 8 * MIB


def test_tree_rss_ignores_a_missing_sim_dir(tree: tuple[int, int], tmp_path: Path) -> None:
    parent, _ = tree
    assert process_tree_rss(parent, SimGpuProbe(tmp_path / "absent")) >= ALLOCATION


def test_on_nvml_the_tree_rss_is_the_rss_alone(tree: tuple[int, int], tmp_path: Path) -> None:
    parent, child = tree
    sim = SimGpuDir(tmp_path / "sim")
    sim.create([SimGpu(0, "GPU-sim-0", "Simulated GPU", 80 * GIB)])
    sim.publish(child, {0: GIB}, host_pinned_bytes=3 * GIB)  # no NVML agent reads this
    assert NvmlProbe().pinned_host_bytes({parent, child}) == 0
    assert process_tree_rss(parent, NvmlProbe()) < process_tree_rss(parent) + 8 * MIB
