"""Pinned host RAM of a level-1 weight backup made the way vLLM makes it: one pinned buffer
per allocation (CuMemAllocator), here one per tensor of Llama-3-8B (bf16, from its config).

Run on a CUDA machine (PyTorch and psutil): ``python bench/pinned_per_tensor.py``. Prints
one JSON object: the sizes' sum, the sum of each rounded up to a power of two, the total
rounded up, the RSS growth of pinning them, and the RSS after freeing and re-pinning them
(PyTorch's host cache keeps the blocks) and after emptying that cache.
"""

from __future__ import annotations

import json
import time

import psutil
import torch

HIDDEN, INTERMEDIATE, VOCAB, LAYERS, KV = 4096, 14336, 128256, 32, 1024
BF16 = 2
LAYER = (
    (HIDDEN + 2 * KV) * HIDDEN,
    HIDDEN * HIDDEN,
    2 * INTERMEDIATE * HIDDEN,
    HIDDEN * INTERMEDIATE,
    2 * HIDDEN,
)  # fmt: skip  (qkv, o, gate_up, down, norms)
SIZES = [VOCAB * HIDDEN * BF16] * 2 + [n * BF16 for _ in range(LAYERS) for n in LAYER]


def pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def pin_all() -> list[torch.Tensor]:
    return [torch.empty(n, dtype=torch.uint8, pin_memory=True) for n in SIZES]


def main() -> None:
    total = sum(SIZES)
    out: dict[str, object] = {
        "torch": torch.__version__, "tensors": len(SIZES), "sum_bytes": total,
        "sum_pow2_bytes": sum(map(pow2, SIZES)), "pow2_of_sum_bytes": pow2(total),
    }  # fmt: skip
    base = rss()
    started = time.monotonic()
    buffers = pin_all()
    out["pin_seconds"] = round(time.monotonic() - started, 2)
    out["rss_growth_bytes"] = rss() - base
    del buffers
    out["rss_growth_after_free_bytes"] = rss() - base
    started = time.monotonic()
    buffers = pin_all()
    out["repin_seconds"] = round(time.monotonic() - started, 3)
    out["rss_growth_after_repin_bytes"] = rss() - base
    del buffers
    torch._C._host_emptyCache()
    out["rss_growth_after_host_empty_cache_bytes"] = rss() - base
    for key in ("sum_pow2_bytes", "pow2_of_sum_bytes", "rss_growth_bytes"):
        out[f"{key[:-6]}_ratio"] = round(int(out[key]) / total, 4)  # type: ignore[call-overload]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
