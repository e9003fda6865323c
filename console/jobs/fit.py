"""Fit checks: will a wake fit in GPU memory, will a level-1 sleep fit in host RAM?

Pure arithmetic over probe readings, so the refusal a user sees names the numbers that
decided it. vLLM checks neither: a wake that does not fit dies with a CUDA out-of-memory
error, and level-1 backups that exceed host RAM push the host into swap or the OOM killer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engines.hostmem import pinned_bytes

GIB = 1 << 30


def gib(value: int | float, digits: int = 1) -> str:
    return f"{value / GIB:.{digits}f} GiB"


@dataclass(frozen=True)
class GpuMemory:
    """One GPU as the probe sees it now, and what wakes already in flight will take."""

    index: int
    total_bytes: int
    used_bytes: int
    reserved_bytes: int = 0

    @property
    def available_bytes(self) -> int:
        return self.total_bytes - self.used_bytes - self.reserved_bytes


@dataclass(frozen=True)
class Fit:
    """The verdict; ``reason`` is shown to the user as is."""

    ok: bool
    reason: str


def check_wake_fits(name: str, need_per_gpu_bytes: int, gpus: Sequence[GpuMemory]) -> Fit:
    """Every GPU of the instance must have room for its share of weights and KV cache."""
    if not gpus:
        return Fit(True, f"{name}: no GPU readings; wake not checked")
    for gpu in gpus:
        if gpu.available_bytes < need_per_gpu_bytes:
            reserved = f", {gib(gpu.reserved_bytes)} promised to wakes in flight"
            return Fit(
                False,
                f"{name} needs {gib(need_per_gpu_bytes)} on GPU {gpu.index} but only "
                f"{gib(max(gpu.available_bytes, 0))} is free ({gib(gpu.total_bytes)} total, "
                f"{gib(gpu.used_bytes)} used{reserved if gpu.reserved_bytes else ''})",
            )
    return Fit(True, f"{name} fits: needs {gib(need_per_gpu_bytes)} per GPU")


def check_host_ram_fits(
    name: str,
    need_bytes: int,
    available_bytes: int,
    reserved_bytes: int,
    headroom_bytes: int,
    held_bytes: int = 0,
) -> Fit:
    """A level-1 sleep copies the weights to pinned host RAM: they must fit beside the rest.

    ``need_bytes`` is the weight size; the backup takes :func:`pinned_bytes` of it, less
    ``held_bytes``: what the engine pinned for an earlier sleep and PyTorch kept (it is in
    the host's used memory already, and the backup reuses it). ``reserved_bytes`` is what
    other sleeps in flight will pin.
    """
    pinned = pinned_bytes(need_bytes)
    extra = max(0, pinned - held_bytes)
    room = available_bytes - reserved_bytes - headroom_bytes
    if room < extra:
        held = f", {gib(held_bytes, 2)} of it pinned already" if held_bytes else ""
        return Fit(
            False,
            f"level-1 sleep of {name}: a backup of {gib(need_bytes, 2)} of weights needs "
            f"{gib(pinned, 2)} of pinned host RAM (PyTorch rounds pinned allocations up to a "
            f"power of two{held}) but only {gib(max(room, 0))} can be spared "
            f"({gib(available_bytes)} available, {gib(reserved_bytes)} promised to other "
            f"sleeps, {gib(headroom_bytes)} headroom)",
        )
    return Fit(True, f"level-1 sleep of {name} fits in host RAM")
