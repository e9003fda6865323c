"""The memory and time model: what each worker holds, and how long moving it takes.

Figures are per tensor-parallel worker (each holds 1/TP of the weights and the KV cache) and
per the DESIGN's measured H100 links: pinned host<->device at ~52 GB/s, first pinned
allocation ~0.57 s per GiB. Every modelled wait is multiplied by ``time_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.config import EmulatorConfig

GIB = 1 << 30
GB = 1e9
# vLLM V1 default block size; the bytes one token's K and V take in the cache.
BLOCK_SIZE = 16
KV_BYTES_PER_TOKEN = 128 * 1024


class StartupError(RuntimeError):
    """The engine cannot start: the model does not fit, or there is no device to hold it."""


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes one worker holds on its GPU when awake, and the GPU's size."""

    weights: int
    kv_cache: int
    overhead: int
    gpu_total: int
    tp: int

    def tag_bytes(self, tag: str) -> int:
        return self.weights if tag == "weights" else self.kv_cache

    @property
    def awake(self) -> int:
        return self.weights + self.kv_cache + self.overhead

    @property
    def kv_tokens(self) -> int:
        """KV cache capacity of the whole engine (every worker holds 1/TP of each token)."""
        return self.num_blocks * BLOCK_SIZE

    @property
    def num_blocks(self) -> int:
        return self.kv_cache * self.tp // (KV_BYTES_PER_TOKEN * BLOCK_SIZE)


def plan_memory(config: EmulatorConfig, gpu_total_bytes: int) -> MemoryPlan:
    """Split weights and KV cache over the workers; the KV default fills the utilization."""
    tp = config.tensor_parallel_size
    weights = int(config.weights_gib * GIB) // tp
    overhead = int(config.overhead_gib * GIB)
    if config.kv_cache_gib is not None:
        kv_cache = int(config.kv_cache_gib * GIB) // tp
    else:
        kv_cache = int(gpu_total_bytes * config.gpu_memory_utilization) - weights - overhead
    if kv_cache <= 0:
        raise StartupError(
            "No available memory for the cache blocks. Try increasing "
            "`gpu_memory_utilization` when initializing the engine."
        )
    return MemoryPlan(weights, kv_cache, overhead, gpu_total_bytes, tp)


@dataclass(frozen=True)
class Physics:
    """Modelled durations in seconds, already multiplied by the time scale."""

    h2d_gbps: float
    d2h_gbps: float
    pin_alloc_s_per_gib: float
    disk_gbps: float
    time_scale: float
    # cuMemMap/cuMemUnmap of a pool: fast next to any copy (about a millisecond per GiB);
    # the weights pool maps slower per GiB (one handle per tensor: vLLM 0.25, H200).
    unmap_s_per_gib: float = 0.002
    kv_map_s_per_gib: float = 0.002
    weights_map_s_per_gib: float = 0.002

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> Physics:
        return cls(
            config.h2d_gbps,
            config.d2h_gbps,
            config.pin_alloc_s_per_gib,
            config.disk_gbps,
            config.time_scale,
            config.unmap_s_per_gib,
            config.kv_map_s_per_gib,
            config.weights_map_s_per_gib,
        )

    def pin_alloc(self, nbytes: int) -> float:
        return self.pin_alloc_s_per_gib * nbytes / GIB * self.time_scale

    def device_to_host(self, nbytes: int) -> float:
        return nbytes / (self.d2h_gbps * GB) * self.time_scale

    def host_to_device(self, nbytes: int) -> float:
        return nbytes / (self.h2d_gbps * GB) * self.time_scale

    def unmap(self, nbytes: int) -> float:
        return self.unmap_s_per_gib * nbytes / GIB * self.time_scale

    def map(self, tag: str, nbytes: int) -> float:
        rate = self.weights_map_s_per_gib if tag == "weights" else self.kv_map_s_per_gib
        return rate * nbytes / GIB * self.time_scale

    def disk_read(self, nbytes: int) -> float:
        return nbytes / (self.disk_gbps * GB) * self.time_scale
