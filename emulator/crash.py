"""What vLLM prints when a forward pass hits unmapped memory, and when a wake runs out.

The strings are those of docs/vllm-behaviour.md §5.5: the worker's illegal memory access, the engine
core's input dump (V1), ``EngineDeadError`` in the API server, or the V0 engine's death (<=0.7).
"""

from __future__ import annotations

from emulator import lines
from emulator.config import EmulatorConfig
from emulator.vlog import VllmLog
from engines.versions import v

_DEAD_ERROR = "vllm.v1.engine.exceptions.EngineDeadError"


def _traceback(frames: list[str], error: str) -> str:
    body = "\n".join(f'  File "{frame}"' for frame in frames)
    return f"Traceback (most recent call last):\n{body}\n{error}"


def log_crash(log: VllmLog, config: EmulatorConfig) -> None:
    """The crash of a request (or a step) reaching a sleeping engine."""
    layout = log.layout
    version = config.version
    worker_error = _traceback(
        ["vllm/v1/worker/gpu_model_runner.py", "vllm/model_executor/layers/linear.py"],
        f"RuntimeError: {lines.ILLEGAL_ACCESS}\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, "
        "so the stacktrace below might be incorrect.",
    )
    if version < v("0.8.0"):
        log.raw(layout.workers[0], worker_error)
        log.log(
            layout.api,
            "CRITICAL",
            "crash_exit",
            "MQLLMEngine is already dead, terminating server process",
        )
        log.error(layout.api, "crash_api", f"RuntimeError: {lines.V0_ENGINE_DEAD}")
        return
    dump = f"Dumping input data for V1 LLM engine (v{version}) with config: model={config.model!r}"
    log.error(layout.core, "crash_dump", dump)
    log.error(layout.core, "crash_core", "EngineCore encountered a fatal error.")
    log.raw(layout.core, worker_error)
    log.error(layout.api, "crash_api", "AsyncLLM output_handler failed.")
    dead = _traceback(
        ["vllm/v1/engine/async_llm.py"], f"{_DEAD_ERROR}: {lines.engine_dead(version)}"
    )
    log.raw(layout.api, dead)


def log_uncaught(log: VllmLog, error: str, frames: list[str] | None = None) -> None:
    """An exception no vLLM handler catches: uvicorn's ERROR line and the traceback."""
    log.uvicorn("Exception in ASGI application", level="ERROR")
    log.raw(log.layout.api, _traceback(frames or ["vllm/entrypoints/openai/api_server.py"], error))


def wake_oom_error(config: EmulatorConfig) -> str:
    """The failed re-map of a wake (vLLM #13941, #47654): the uncaught error's text."""
    return f"RuntimeError: {lines.wake_oom(config.version)}"
