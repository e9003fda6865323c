"""Host RAM that pinning takes: what a level-1 sleep's weight backup really costs."""

from __future__ import annotations


def pinned_bytes(nbytes: int) -> int:
    """Host RAM that one pinned allocation of ``nbytes`` takes: the next power of two.

    PyTorch's CachingHostAllocator rounds every ``pin_memory=True`` allocation up to a
    power of two and keeps the block after the tensor is freed, for reuse. Measured on an
    H100 (docs/gpu-validation.md, bench/pinned_per_tensor.py): one 30 GiB backup grew the
    RSS by 32.00 GiB and stayed after the wake; 162 buffers of Llama-3-8B's tensor sizes
    (14.96 GiB) pinned 17.10 GiB, the sum of each one rounded up.
    """
    if nbytes < 0:
        raise ValueError(f"a byte count cannot be negative, got {nbytes}")
    return 1 << (nbytes - 1).bit_length() if nbytes else 0
