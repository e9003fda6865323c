"""The text of vLLM's log messages, version by version (docs/vllm-behaviour.md §5.3-5.5).

Only the message part: the record header and the process prefix are added by ``vlog``.
"""

from __future__ import annotations

from collections.abc import Iterable

from engines.versions import VllmVersion, v

ENGINE_DEAD_0_11 = "EngineCore encountered an issue. See stack trace (above) for the root cause."
ENGINE_DEAD_0_33 = "The server had an error while processing your request."
V0_ENGINE_DEAD = "Engine loop has died"
ILLEGAL_ACCESS = "CUDA error: an illegal memory access was encountered"


def _gib(value: float, version: VllmVersion, since: str) -> str:
    """``%.2f`` before ``since``, ``%s`` of ``round(x, 2)`` from it (``5.8``, not ``5.80``)."""
    return str(round(value, 2)) if version >= v(since) else f"{value:.2f}"


def version_line(version: VllmVersion, model: str) -> str:
    if version >= v("0.15.0"):
        return f"vLLM server version {version}, serving model {model}"
    return f"vLLM API server version {version}"


def model_loaded(version: VllmVersion, gib: float, seconds: float) -> str:
    if v("0.25.0") <= version < v("0.26.0"):
        # The new model runner (v1/worker/gpu/model_runner.py): no "memory" word, as a real 0.25.0
        # printed it: "Model loading took 13.49 GiB and 2.812381 seconds" (later versions not seen
        # run: the reading of the source in docs/vllm-behaviour.md §5.4 is kept for them).
        return f"Model loading took {gib:.2f} GiB and {seconds:.6f} seconds"
    if version >= v("0.14.0"):
        return f"Model loading took {round(gib, 4)} GiB memory and {seconds:.6f} seconds"
    if version >= v("0.11.1"):
        return f"Model loading took {gib:.4f} GiB memory and {seconds:.6f} seconds"
    unit = "GB" if version < v("0.9.0") else "GiB"
    return f"Model loading took {gib:.4f} {unit} and {seconds:.6f} seconds"


def compile_total(version: VllmVersion, seconds: float) -> str:
    verb = "took" if version >= v("0.18.0") else "takes"
    return f"torch.compile {verb} {seconds:.2f} s in total"


def kv_memory(version: VllmVersion, gib: float) -> str:
    return f"Available KV cache memory: {_gib(gib, version, '0.14.0')} GiB"


def kv_tokens(version: VllmVersion, tokens: int, max_len: int) -> list[tuple[str, str]]:
    """``(site key, text)``: one line from 0.28 on, two before (0.30+ names the pool "GPU")."""
    size = f"GPU KV cache size: {tokens:,} tokens"
    concurrency = f"Maximum concurrency for {max_len:,} tokens per request: {tokens / max_len:.2f}x"
    if version >= v("0.28.0"):
        return [("kv_tokens", f"{size}, {concurrency}")]
    return [("kv_tokens", size), ("concurrency", concurrency)]


def listen(version: VllmVersion, url: str) -> str:
    if version >= v("0.18.0"):
        return f"Starting vLLM server on {url}"
    if version >= v("0.10.0"):
        return f"Starting vLLM API server 0 on {url}"
    return f"Starting vLLM API server on {url}"


def engine_init(version: VllmVersion, seconds: float, compiled: float) -> str:
    if version >= v("0.25.0"):
        # A real 0.25.0: "... took 134.80 s (compilation: 21.64 s)".
        return (
            "init engine (profile, create kv cache, warmup model) took "
            f"{seconds:.2f} s (compilation: {compiled:.2f} s)"
        )
    return f"init engine (profile, create kv cache, warmup model) took {seconds:.2f} seconds"


def weights_reloaded(version: VllmVersion, seconds: float) -> str:
    """After ``reload_weights``: 0.25's runner times the reload and its processing."""
    if version >= v("0.25.0"):
        return f"Reloading and processing weights took {seconds:.2f} seconds"
    return f"Loading weights took {seconds:.2f} seconds"


# reload_weights of a model loaded with --load-format dummy (vllm 0.25.0
# v1/worker/gpu_model_runner.py:5472 raises it; the API answers a JSON 500).
DUMMY_RELOAD = "Model reloading with `dummy` format"


def fell_asleep(seconds: float) -> str:
    return f"It took {seconds:.6f} seconds to fall asleep."


def woke(version: VllmVersion, seconds: float, tags: str) -> str:
    if version < v("0.8.0"):
        return f"It took {seconds:.6f} seconds to wake up."
    return f"It took {seconds:.6f} seconds to wake up tags {tags}."


def cumem_freed(freed: float, backed_up: float, discarded: float) -> str:
    return (
        f"CuMemAllocator: sleep freed {freed:.2f} GiB memory in total, of which "
        f"{backed_up:.2f} GiB is backed up in CPU and the rest {discarded:.2f} GiB "
        "is discarded directly."
    )


def sleep_freed(version: VllmVersion, freed: float, in_use: float) -> str:
    return (
        f"Sleep mode freed {_gib(freed, version, '0.14.0')} GiB memory, "
        f"{_gib(in_use, version, '0.14.0')} GiB memory is still in use."
    )


def api_wake(version: VllmVersion, tags: list[str] | None) -> str:
    if version < v("0.8.5"):
        return "wake up the engine"
    return f"wake up the engine with tags: {tags!r}"


def tag_set(tags: Iterable[str]) -> str:
    """Python's repr of the executor's set, in the order 0.11.0 printed it on the H100."""
    order = {"weights": 0, "kv_cache": 1}
    ordered = sorted(tags, key=lambda tag: order.get(tag, 2))
    return "{" + ", ".join(repr(tag) for tag in ordered) + "}"


def engine_dead(version: VllmVersion) -> str:
    if version < v("0.8.0"):
        return V0_ENGINE_DEAD
    return ENGINE_DEAD_0_33 if version >= v("0.33.0") else ENGINE_DEAD_0_11


def wake_oom(version: VllmVersion) -> str:
    """The allocator's error; the C++ line moved between versions (vLLM #13941, #47654)."""
    line = 56 if version < v("0.9.0") else 62 if version < v("0.20.0") else 163
    return f"CUDA Error: out of memory at /workspace/csrc/cumem_allocator.cpp:{line}"
