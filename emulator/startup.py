"""vLLM's startup lines (docs/vllm-behaviour.md §5.4), spread over ``--startup-seconds`` (scaled).

The figures printed are the modelled ones (GiB per worker, KV tokens) and the seconds really
elapsed, so a log reader recovers exactly what the emulator holds.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI

from emulator import lines
from emulator.backends import Backend
from emulator.config import EmulatorConfig
from emulator.physics import GIB
from emulator.vlog import VllmLog
from engines.versions import v

# Shares of the startup time: weights, torch.compile, profiling + KV cache + CUDA graphs.
_LOAD, _COMPILE, _GRAPHS = 0.4, 0.25, 0.35
# What CUDA graphs take on the GPU; counted in the overhead, printed as vLLM does.
_GRAPH_GIB = 0.12


def announce(config: EmulatorConfig, log: VllmLog) -> None:
    """The API server's first lines: version, arguments, warnings, max model len."""
    api = log.layout.api
    log.info(api, "version", lines.version_line(config.version, config.model))
    log.info(api, "args", f"non-default args: {dict(config.non_default_args)}")
    if config.ignored_args:
        ignored = " ".join(config.ignored_args)
        log.warning(api, "ignored", f"The emulator ignores these vllm serve arguments: {ignored}")
    if config.dev_mode and config.version >= v("0.9.0"):
        log.warning(
            api,
            "security",
            "SECURITY WARNING: Development endpoints are enabled! "
            "This should NOT be used in production!",
        )
    log.info(api, "max_len", f"Using max model len {config.max_model_len}")


async def _phase(seconds: float) -> float:
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    return time.perf_counter() - started


async def load_engine(config: EmulatorConfig, log: VllmLog, backend: Backend) -> None:
    """Reserve the memory (``StartupError`` if it does not fit) and print the load."""
    total = config.startup_seconds * config.time_scale
    workers = log.layout.workers
    core = log.layout.core
    started = time.perf_counter()
    await asyncio.to_thread(backend.start)
    for worker in workers:
        log.info(worker, "load_start", f"Starting to load model {config.model}...")
    loaded = await _phase(total * _LOAD) + (time.perf_counter() - started)
    plan = backend.plan
    for worker in workers:
        log.info(worker, "weights", f"Loading weights took {loaded:.2f} seconds")
        message = lines.model_loaded(config.version, plan.weights / GIB, loaded)
        log.info(worker, "model_loaded", message)
    compiled = await _phase(total * _COMPILE)
    if config.version >= v("0.8.0"):
        log.info(core, "dynamo", f"Dynamo bytecode transform time: {compiled / 2:.2f} s")
        log.info(core, "compile", lines.compile_total(config.version, compiled))
    for worker in workers:
        log.info(worker, "kv_memory", lines.kv_memory(config.version, plan.kv_cache / GIB))
    for key, line in lines.kv_tokens(config.version, plan.kv_tokens, config.max_model_len):
        log.info(core, key, line)
    graphs = await _phase(total * _GRAPHS)
    for worker in workers:
        message = f"Graph capturing finished in {graphs:.0f} secs, took {_GRAPH_GIB:.2f} GiB"
        log.info(worker, "graphs", message)
    elapsed = time.perf_counter() - started
    log.info(core, "engine_init", lines.engine_init(config.version, elapsed, compiled))


def announce_ready(config: EmulatorConfig, log: VllmLog, app: FastAPI, num_blocks: int) -> None:
    """The API server's lines once the engine is up: cache config, URL, routes, uvicorn."""
    api = log.layout.api
    if config.version >= v("0.8.0"):
        blocks = (
            "Engine 000: vllm cache_config_info with initialization after "
            f"num_gpu_blocks is: {num_blocks}"
        )
        log.info(api, "blocks", blocks)
        log.info(api, "tasks", "Supported_tasks: ['generate']")
    url = f"http://{config.bind_host}:{config.port}"
    log.info(api, "listen", lines.listen(config.version, url))
    log.info(api, "routes", "Available routes are:")
    for route in app.routes:
        path = getattr(route, "path", "")
        if path:
            methods = ", ".join(sorted(getattr(route, "methods", None) or ()))
            log.info(api, "route", f"Route: {path}, Methods: {methods}")
    log.uvicorn(f"Started server process [{log.layout.api.pid}]")
    log.uvicorn("Waiting for application startup.")
    log.uvicorn("Application startup complete.")


def log_startup_failure(config: EmulatorConfig, log: VllmLog, error: str) -> None:
    """The engine core's failure at start, then the API server's summary (0.10+ wording)."""
    core = log.layout.core
    log.error(core, "crash_core", "EngineCore failed to start.")
    log.raw(
        core, f'Traceback (most recent call last):\n  File "vllm/v1/worker/gpu_worker.py"\n{error}'
    )
    summary = "Engine core initialization failed. See root cause above. Failed core proc(s): {}"
    log.raw(log.layout.api, f"RuntimeError: {summary}")
