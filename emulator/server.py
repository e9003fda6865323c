"""Run the emulator: parse, bind, load, serve with uvicorn, shut down cleanly.

As vLLM, the socket is bound before the engine loads (a busy port fails at once) and uvicorn gets it
pre-bound, so uvicorn never prints ``Uvicorn running on`` (docs/vllm-behaviour.md §5.1). SIGTERM and
SIGINT release the (simulated) GPU memory and exit 0; a crashed engine exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence

import uvicorn

from emulator.app import create_app
from emulator.backends import Backend
from emulator.backends.select import create_backend
from emulator.config import DevModeValueError, EmulatorConfig, parse_config
from emulator.engine import Engine
from emulator.metrics import EngineMetrics
from emulator.physics import BLOCK_SIZE, StartupError
from emulator.startup import announce, announce_ready, load_engine, log_startup_failure
from emulator.stats import log_stats_forever
from emulator.vlog import VllmLog

_GRACEFUL_SHUTDOWN_S = 3


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught after shutting down; the emulator exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _bind(config: EmulatorConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.bind_host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then; without it
    # every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.bind_host, config.port))
    return sock


class _Emulator:
    """One run: the backend, the engine and the uvicorn server around them."""

    def __init__(self, config: EmulatorConfig, log: VllmLog, backend: Backend) -> None:
        self.config = config
        self.log = log
        self.backend = backend
        self.server: _Server | None = None
        self.metrics = EngineMetrics(config.version, config.model_names[0])
        self.engine = Engine(config, backend, log, self.metrics, self._engine_died)

    def _engine_died(self) -> None:
        # vLLM's terminate_if_errored (0.11.0 entrypoints/launcher.py:117-127).
        if self.server is not None and not self.config.keep_alive_on_engine_death:
            self.server.should_exit = True

    async def load(self) -> None:
        await load_engine(self.config, self.log, self.backend)
        plan = self.backend.plan
        utilization = self.config.gpu_memory_utilization
        self.metrics.set_cache_config(plan.num_blocks, BLOCK_SIZE, utilization)

    async def serve(self, sock: socket.socket) -> int:
        plan = self.backend.plan
        app = create_app(self.engine)
        announce_ready(self.config, self.log, app, plan.num_blocks)
        # The emulator prints uvicorn's lines itself, in vLLM's layout ("Exception in ASGI
        # application" included, see middleware.AccessLog): uvicorn's own logger stays quiet.
        quiet = logging.getLogger("uvicorn.error")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        uv_config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        )
        self.server = _Server(uv_config)
        stats = None
        if self.config.log_stats:
            interval = self.config.log_stats_interval
            stats = asyncio.create_task(log_stats_forever(self.engine, interval))
        try:
            await self.server.serve(sockets=[sock])
        finally:
            if stats is not None:
                stats.cancel()
        self._log_shutdown()
        return 1 if self.engine.dead else 0

    def _log_shutdown(self) -> None:
        self.log.uvicorn("Shutting down")
        self.log.uvicorn("Waiting for application shutdown.")
        self.log.uvicorn("Application shutdown complete.")
        self.log.uvicorn(f"Finished server process [{self.log.layout.api.pid}]")


async def _main(config: EmulatorConfig, log: VllmLog) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    # Until uvicorn takes the signals over, a SIGTERM cancels the startup.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        sock = _bind(config)
    except OSError as error:
        log.raw(log.layout.api, f"OSError: {error}")
        return 1
    try:
        backend = create_backend(config)
    except StartupError as error:
        log_startup_failure(config, log, f"ValueError: {error}")
        return 1
    emulator = _Emulator(config, log, backend)
    try:
        try:
            await emulator.load()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return await emulator.serve(sock)
    except StartupError as error:
        log_startup_failure(config, log, f"ValueError: {error}")
        return 1
    except asyncio.CancelledError:
        return 0
    finally:
        backend.close()
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emulator serve MODEL [flags]``; returns the exit status."""
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
    except DevModeValueError as error:
        # vLLM parses VLLM_SERVER_DEV_MODE with int() at import and dies with the ValueError.
        print(f"ValueError: {error}", file=sys.stderr)
        return 1
    log = VllmLog(config)
    announce(config, log)
    return asyncio.run(_main(config, log))
