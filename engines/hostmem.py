"""Host RAM that pinning takes: what a level-1 sleep's weight backup really costs."""

from __future__ import annotations


def pinned_bytes(nbytes: int) -> int:
    """Host RAM that one pinned allocation of ``nbytes`` takes: the next power of two.

    PyTorch's CachingHostAllocator rounds every ``pin_memory=True`` allocation up to a
    power of two, and keeps the block after the tensor is freed (for reuse): on an H100 a
    30 GiB backup grew the engine's RSS by 32.00 GiB, and it stayed after the wake
    (docs/gpu-validation.md). vLLM's CuMemAllocator pins one buffer per allocation; the
    console knows only an instance's total weight size, so it rounds the total: exact for
    one buffer, while many odd-sized buffers can round to more (always under twice the total).
    """
    if nbytes < 0:
        raise ValueError(f"a byte count cannot be negative, got {nbytes}")
    return 1 << (nbytes - 1).bit_length() if nbytes else 0
