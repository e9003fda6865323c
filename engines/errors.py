"""Typed errors raised by the engine client: each says which engine, which operation, and
whether retrying the same call can help (``retryable``).

Callers catch :class:`EngineError` for "the engine call failed" and the subclasses for the
cases they handle differently (wake out of memory, dev mode off, ...). No httpx exception
leaves :mod:`engines.client`.
"""

from __future__ import annotations


class EngineError(Exception):
    """A call to a vLLM server failed.

    ``url`` is the engine's base URL, ``operation`` the client method ("sleep", "wake", ...),
    ``status`` the HTTP status when the server answered. ``retryable`` defaults to the
    class's value; a few call sites know better and override it.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.url = url
        self.operation = operation
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)

    def __str__(self) -> str:
        # Rendered on demand: the client fills in ``url`` on errors raised before sending.
        where = " ".join(part for part in (self.operation, self.url) if part)
        prefix = f"{where}: " if where else ""
        code = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{prefix}{self.message}{code}"


class EngineUnreachable(EngineError):
    """No HTTP answer: connection refused or reset, DNS failure. The server may be starting."""

    retryable = True


class EngineTimeout(EngineError):
    """Connecting, sending or waiting for the answer took longer than the configured timeout."""

    retryable = True


class EngineDead(EngineError):
    """The engine core died (``/health`` 503, or vLLM's EngineDeadError body).

    vLLM then exits unless ``VLLM_KEEP_ALIVE_ON_ENGINE_DEATH=1`` (docs/vllm-behaviour.md §4): only a
    restart helps, so this is not retryable.
    """


class EngineBusy(EngineError):
    """The engine refused for now and says so: retry later.

    0.33 answers 503 ``engine_paused`` to generation requests while ``/pause``d
    (docs/vllm-behaviour.md §2.7); 0.26+ ``/reset_prefix_cache`` answers ``{"success": false}``
    while requests hold blocks.
    """

    retryable = True


class EngineAsleep(EngineError):
    """A generation request was refused by the client because the engine is asleep.

    On vLLM <= 0.16 such a request kills the engine; on 0.17+ it hangs until a wake
    (docs/vllm-behaviour.md §4). Wake the engine first.
    """


class EngineBadRequest(EngineError):
    """The server rejected the request (400, 422 or another 4xx)."""


class EngineUnauthorized(EngineBadRequest):
    """401 on a ``/v1`` path: the client's ``api_key`` is missing or wrong
    (docs/vllm-behaviour.md §2.11)."""


class EngineServerError(EngineError):
    """A 5xx or a malformed answer that no more specific error explains."""


class DevModeOff(EngineError):
    """404 on a dev endpoint: the server was started without ``VLLM_SERVER_DEV_MODE=1``.

    Without dev mode vLLM does not declare the routes at all, so FastAPI answers its own
    ``{"detail":"Not Found"}`` (docs/vllm-behaviour.md §2.1). Restart the server with the variable
    set.
    """


class SleepModeDisabled(EngineError):
    """The server says sleep mode is not enabled (started without ``--enable-sleep-mode``).

    V1 engines (every version the console targets) answer ``/sleep`` with a plain 200 even then,
    freeing nothing (docs/vllm-behaviour.md §2.1), so the client can raise this only when the answer
    itself says so; otherwise compare the memory freed (log parser, GPU probe).
    """


class WakeOutOfMemory(EngineError):
    """``/wake_up`` failed with CUDA out of memory; the engine stays asleep
    (docs/vllm-behaviour.md §2.4).

    Another process holds the memory: free it (put another model to sleep) before retrying,
    hence not retryable as such.
    """


class UnsupportedByVersion(EngineError):
    """The engine's vLLM version lacks the operation; raised before anything is sent."""


class MetricsParseError(EngineError):
    """``/metrics`` text that is not valid Prometheus exposition, or is missing vLLM's gauges."""
