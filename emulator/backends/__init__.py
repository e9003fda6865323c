"""Device backends: where one worker's weights and KV cache live, and what moving them costs.

``Backend`` holds the bookkeeping both backends share (which tags are mapped, whether the
weights have a host copy, whether pinned host memory was already allocated); subclasses do
the moving: ``SimBackend`` waits the modelled time and publishes to the simulated GPU
directory, ``CudaBackend`` really allocates and copies with PyTorch. Methods block: the
engine calls them from a worker thread and measures the elapsed time itself, as vLLM does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from emulator.physics import MemoryPlan, Physics

TAGS = ("weights", "kv_cache")


class WakeOutOfMemoryError(RuntimeError):
    """Re-mapping a pool failed: the GPU no longer has room (another process took it)."""


@dataclass(frozen=True)
class SleepFigures:
    """What one worker's allocator freed, in bytes (the ``CuMemAllocator`` line)."""

    freed: int
    backed_up: int

    @property
    def discarded(self) -> int:
        return self.freed - self.backed_up


class Backend(ABC):
    """One engine's device memory over its TP workers (all workers move in lockstep)."""

    def __init__(self, plan: MemoryPlan, physics: Physics) -> None:
        self.plan = plan
        self.physics = physics
        self.resident: set[str] = set()
        self.backed_up = False
        self.pinned = False

    def start(self) -> None:
        """Allocate weights and KV cache; raise ``StartupError`` when they do not fit."""
        self._allocate_all()
        self.resident = set(TAGS)

    def sleep(self, offload_weights: bool) -> SleepFigures:
        """Level 1 backs the weights up to pinned host memory; everything else is dropped."""
        freed = sum(self.plan.tag_bytes(tag) for tag in self.resident)
        backed_up = 0
        if offload_weights and "weights" in self.resident:
            self._offload_weights(first=not self.pinned)
            self.pinned = True
            self.backed_up = True
            backed_up = self.plan.weights
        dropped = set(self.resident)
        self.resident.clear()
        self._unmap(dropped)
        return SleepFigures(freed, backed_up)

    def discard(self, tag: str) -> int:
        """Drop one mapped pool without a backup (0.31+ ``release_kv_cache_memory``)."""
        if tag not in self.resident:
            return 0
        self.resident.discard(tag)
        self._unmap({tag})
        return self.plan.tag_bytes(tag)

    def wake(self, tags: Iterable[str]) -> None:
        """Map ``tags`` again (weights first); restore the host copy of the weights if any."""
        for tag in sorted(set(tags) - self.resident, key=TAGS.index):
            self._map(tag)
            self.resident.add(tag)
            if tag == "weights" and self.backed_up:
                self._restore_weights()
                self.backed_up = False

    def reload_weights(self) -> None:
        """Read the weights from disk again (after a level-2 wake left them uninitialised)."""
        self._reload_weights()

    @abstractmethod
    def gpu_used_bytes(self) -> int:
        """Device memory in use on the first GPU, all processes (what vLLM's worker reads)."""

    @abstractmethod
    def close(self) -> None:
        """Release everything (clean exit)."""

    @abstractmethod
    def _allocate_all(self) -> None: ...

    @abstractmethod
    def _offload_weights(self, first: bool) -> None: ...

    @abstractmethod
    def _unmap(self, tags: set[str]) -> None: ...

    @abstractmethod
    def _map(self, tag: str) -> None: ...

    @abstractmethod
    def _restore_weights(self) -> None: ...

    @abstractmethod
    def _reload_weights(self) -> None: ...
