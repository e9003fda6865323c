"""The timing and memory model's constants, per the real runs they were calibrated on.

Each ``--h2d-gbps``-style flag left out takes its value from the calibration of the emulated
version: 0.25.x from a real vLLM 0.25.0 on an H200 (docs/real-vllm.md, fixtures in
tests/engines/fixtures/real-vllm-0.25.0/), older versions from the H100 runs of the DESIGN
(pinned links ~52 GB/s, first pinning ~0.57 s/GiB, a real 0.11.0's 75 GiB backup).
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.versions import VllmVersion, v


@dataclass(frozen=True)
class Calibration:
    """Rates of one machine and vLLM version; every figure is per TP worker."""

    h2d_gbps: float  # pinned host -> device copy (level-1 wake of the weights)
    d2h_gbps: float  # device -> pinned host copy (level-1 sleep)
    pin_alloc_s_per_gib: float  # first level-1 sleep: allocating the pinned backup
    disk_gbps: float  # reload_weights reading the checkpoint
    overhead_gib: float  # what an engine keeps on the GPU while asleep
    unmap_s_per_gib: float  # cuMemUnmap + release of a pool (sleep)
    kv_map_s_per_gib: float  # re-mapping the KV cache pool (wake)
    weights_map_s_per_gib: float  # re-mapping the weights pool (wake): many small handles


# DESIGN's H100 figures (vLLM 0.11.0, emulator CUDA mode: docs/gpu-validation.md).
H100 = Calibration(
    h2d_gbps=52.0, d2h_gbps=53.0, pin_alloc_s_per_gib=0.57, disk_gbps=2.0, overhead_gib=0.25,
    unmap_s_per_gib=0.002, kv_map_s_per_gib=0.002, weights_map_s_per_gib=0.002,
)  # fmt: skip

# A real vLLM 0.25.0 on an H200, Llama-8B shape, --gpu-memory-utilization 0.55 (13.65 GiB of
# weights backed up, 62.25 GiB of KV cache): first level-1 sleep 7.37 s (0.52 s/GiB of
# pinning), later ones 0.33 s (0.27 s copying 14.7 GB: 55 GB/s, the rest unmapping 76 GiB),
# level-2 sleep 0.07 s, weights-only wake after level 2 0.05 s (mapping alone), KV-only wake
# 0.05 s for 62 GiB, weights-only wake after level 1 0.34 s (so the copy runs at ~51 GB/s),
# reload_weights of a 13.49 GiB checkpoint ~1.9 s, 1.84 GiB still in use while asleep.
H200_0_25 = Calibration(
    h2d_gbps=51.3, d2h_gbps=54.7, pin_alloc_s_per_gib=0.516, disk_gbps=7.5, overhead_gib=1.84,
    unmap_s_per_gib=0.00085, kv_map_s_per_gib=0.00083, weights_map_s_per_gib=0.0038,
)  # fmt: skip


def calibration_for(version: VllmVersion) -> Calibration:
    """The calibration an emulated ``version`` uses for the flags left out.

    Only 0.25.x was measured on the H200; other versions keep the H100 figures.
    """
    return H200_0_25 if v("0.25.0") <= version < v("0.26.0") else H100
