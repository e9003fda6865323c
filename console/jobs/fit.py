"""Fit checks: will a wake fit in GPU memory, will a level-1 sleep fit in host RAM?

Pure arithmetic over probe readings, so the refusal a user sees names the numbers that
decided it. vLLM checks neither: a wake that does not fit dies with a CUDA out-of-memory
error, and level-1 backups that exceed host RAM push the host into swap or the OOM killer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    """The verdict; ``reason`` is shown to the user as is, ``figures`` go with its alert."""

    ok: bool
    reason: str
    figures: Mapping[str, str | int | float] = field(default_factory=dict)


def gib_figure(value: int | float) -> float:
    return round(value / GIB, 2)


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
                {
                    "instance": name, "gpu": gpu.index,
                    "needed_gib": gib_figure(need_per_gpu_bytes),
                    "free_gib": gib_figure(max(gpu.available_bytes, 0)),
                    "total_gib": gib_figure(gpu.total_bytes),
                    "used_gib": gib_figure(gpu.used_bytes),
                    "promised_gib": gib_figure(gpu.reserved_bytes),
                },
            )  # fmt: skip
    return Fit(True, f"{name} fits: needs {gib(need_per_gpu_bytes)} per GPU")


@dataclass(frozen=True)
class HostRam:
    """A level-1 sleep's weight backup against the host's RAM, in bytes."""

    weights: int
    # Host RAM the backup pins: measured at the instance's last level-1 sleep, else estimated.
    pinned: int
    measured: bool
    available: int
    # Still to be pinned by other sleeps in flight on the host.
    reserved: int
    headroom: int
    # Pinned by this engine for an earlier sleep and kept by PyTorch: in the host's used
    # memory already, and reused by this backup.
    held: int = 0


def estimate_pinned_bytes(weights: int, factor: float) -> int:
    """Host RAM a first level-1 backup of ``weights`` is expected to pin.

    vLLM's CuMemAllocator pins one buffer per allocation and PyTorch rounds each up to a
    power of two (``engines.hostmem.pinned_bytes``): on an H100, the 162 tensors of
    Llama-3-8B's shapes (14.96 GiB) pinned 17.10 GiB, 1.143 times (bench/results). The
    console knows only the total, so it takes ``factor`` times it; rounding the total
    instead would be short for that model (16 GiB) and twice too much for others (70B:
    131 GiB -> 256).
    """
    return math.ceil(weights * factor)


def check_host_ram_fits(name: str, ram: HostRam) -> Fit:
    """A level-1 sleep copies the weights to pinned host RAM: they must fit beside the rest."""
    extra = max(0, ram.pinned - ram.held)
    room = ram.available - ram.reserved - ram.headroom
    if room < extra:
        how = (
            "as measured at its last level-1 sleep"
            if ram.measured
            else "estimated: PyTorch rounds each pinned allocation up to a power of two"
        )
        held = f"; {gib(ram.held, 2)} of it pinned already" if ram.held else ""
        return Fit(
            False,
            f"level-1 sleep of {name}: a backup of {gib(ram.weights, 2)} of weights needs "
            f"{gib(ram.pinned, 2)} of pinned host RAM ({how}{held}) but only "
            f"{gib(max(room, 0))} can be spared ({gib(ram.available)} available, "
            f"{gib(ram.reserved)} promised to other sleeps, {gib(ram.headroom)} headroom)",
            {
                "instance": name, "memory": "host RAM",
                "needed_gib": gib_figure(extra), "free_gib": gib_figure(max(room, 0)),
                "available_gib": gib_figure(ram.available),
                "promised_gib": gib_figure(ram.reserved), "headroom_gib": gib_figure(ram.headroom),
            },
        )  # fmt: skip
    return Fit(True, f"level-1 sleep of {name} fits in host RAM")
