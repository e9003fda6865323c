"""The engine's sleep/wake state machine, with vLLM's semantics version by version
(docs/vllm-behaviour.md §3-4).

``Engine`` plays vLLM's engine core and executor: the executor's ``sleeping_tags``
bookkeeping and its log lines, the scheduler pause of 0.17+, and the crash of <=0.16 when a
forward pass touches unmapped memory. Requests are gated by ``Scheduler`` (``scheduler.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from emulator import lines
from emulator.backends import TAGS, Backend, SleepFigures
from emulator.config import EmulatorConfig
from emulator.crash import log_crash
from emulator.metrics import EngineMetrics
from emulator.physics import GIB
from emulator.scheduler import PauseState, Request, Scheduler
from emulator.vlog import VllmLog
from engines.versions import v


class EngineDeadError(Exception):
    """The engine core died; every later request fails and the server goes down."""


class DummyReloadError(RuntimeError):
    """``reload_weights`` of a model loaded with ``--load-format dummy`` (vLLM refuses it)."""


class Engine:
    """Sleep level, sleeping tags, weight validity and liveness of one emulated engine."""

    def __init__(
        self,
        config: EmulatorConfig,
        backend: Backend,
        log: VllmLog,
        metrics: EngineMetrics,
        on_dead: Callable[[], None],
    ) -> None:
        self.config = config
        self.features = config.features
        self.backend = backend
        self.log = log
        self.metrics = metrics
        self.scheduler = Scheduler(metrics, backend.plan.kv_tokens)
        self.sleeping_tags: set[str] = set()
        self.weights_valid = True
        self.dead = False
        self._on_dead = on_dead
        self._op_lock = asyncio.Lock()
        self._backend_announced = False

    @property
    def is_sleeping(self) -> bool:
        """<=0.16: the executor's flag; 0.17+: also true while the scheduler is paused,
        by a sleep or by ``/pause`` (vllm 0.33.0 ``v1/engine/core.py:1078-1080``)."""
        if self.features.has_sleep_level_zero and self.scheduler.paused:
            return True
        return bool(self.sleeping_tags)

    @contextlib.asynccontextmanager
    async def _in_flight(self, operation: str) -> AsyncIterator[None]:
        with self.metrics.sleep_op_in_flight(operation):
            yield

    @property
    def memory_unmapped(self) -> bool:
        """A forward pass now would touch unmapped memory (only when sleep mode owns it)."""
        return self.config.enable_sleep_mode and bool(self.sleeping_tags)

    # --- sleep -------------------------------------------------------------------------

    async def sleep(self, level: int, mode: str = "abort") -> None:
        """``POST /sleep``: 0.17+ pause scheduling first; level 0 stops there."""
        async with self._op_lock, self._in_flight("sleep"):
            if self.features.has_sleep_level_zero:
                await self._pause_for_sleep(mode)
                if level == 0:
                    self.metrics.set_sleep_state(awake=False, level=0)
                    return
            # <=0.16 neither drains nor pauses: a request in flight takes its next step on
            # unmapped memory and crashes the engine (vLLM #28714).
            await self._executor_sleep(level)

    async def _pause_for_sleep(self, mode: str) -> None:
        state = PauseState.PAUSED_ALL if mode == "keep" else PauseState.PAUSED_NEW
        if mode == "abort":
            await self.scheduler.abort_all()
        await self.scheduler.set_sleep_pause(state)
        self._log_pause_state(state)
        if mode == "wait":
            self.log.info(
                self.log.layout.core,
                "drain",
                "Waiting for in-flight requests to complete before sleeping...",
            )
            await self.scheduler.wait_idle()

    def _log_pause_state(self, state: PauseState) -> None:
        if self.config.version >= v("0.31.0"):
            self.log.info(self.log.layout.core, "pause_state", f"setting pause state to {state}")

    async def _executor_sleep(self, level: int) -> None:
        self.log_prefix_reset()
        if self.sleeping_tags:
            self.log.warning(
                self.log.layout.core, "already_sleeping", "Executor is already sleeping."
            )
            return
        offload = level == 1
        started = time.perf_counter()
        if self.config.version >= v("0.25.0") and not self._backend_announced:
            # 0.25 picks its sleep-mode backend at the first sleep (a real 0.25.0's order).
            self._backend_announced = True
            self.log.info(self.log.layout.core, "backend", "Using sleep-mode backend: cumem")
        # vLLM's worker measures "freed" as the change of free device memory around the sleep
        # (vllm 0.11.0 ``v1/worker/gpu_worker.py:117``), so on a real GPU it can differ from
        # the allocator's figure: measure it the same way.
        before = await asyncio.to_thread(self.backend.gpu_used_bytes)
        figures = SleepFigures(0, 0)
        if self.config.enable_sleep_mode:
            figures = await asyncio.to_thread(self.backend.sleep, offload)
        in_use = await asyncio.to_thread(self.backend.gpu_used_bytes)
        self._log_worker_sleep(figures, before - in_use, in_use)
        elapsed = time.perf_counter() - started
        self.sleeping_tags = set(TAGS)
        if self.config.enable_sleep_mode and not offload:
            self.weights_valid = False
        self.log.info(self.log.layout.core, "fell_asleep", lines.fell_asleep(elapsed))
        self.metrics.set_sleep_state(awake=False, level=level)
        self.metrics.observe_sleep_op("sleep", elapsed)

    def log_prefix_reset(self) -> None:
        # 0.11.0's AsyncLLM.sleep resets the prefix cache before the engine sleeps.
        if self.config.version < v("0.11.0"):
            return
        held = self.scheduler.held_blocks()
        message = (
            f"Failed to reset prefix cache because some blocks ({held}) are not freed yet"
            if held
            else "Successfully reset prefix cache"
        )
        self.log.info(self.log.layout.core, "prefix_reset", message)

    def _log_worker_sleep(self, figures: SleepFigures, freed: int, in_use: int) -> None:
        version = self.config.version
        for worker in self.log.layout.workers:
            if self.features.has_cumem_log:
                cumem = lines.cumem_freed(
                    figures.freed / GIB, figures.backed_up / GIB, figures.discarded / GIB
                )
                self.log.info(worker, "cumem", cumem)
            summary = lines.sleep_freed(version, freed / GIB, in_use / GIB)
            self.log.info(worker, "sleep_freed", summary)

    # --- wake --------------------------------------------------------------------------

    async def wake(self, tags: list[str] | None) -> None:
        """``POST /wake_up``; raises ``WakeOutOfMemoryError`` and then stays asleep."""
        async with self._op_lock, self._in_flight("wake"):
            if not self.features.has_sleep_level_zero:
                await self._executor_wake(tags)
                return
            # 0.17+: "scheduling" only resumes the scheduler (vllm 0.33.0 v1/engine/core.py).
            rest = None if tags is None else [tag for tag in tags if tag != "scheduling"]
            if rest is None or rest:
                await self._executor_wake(rest)
            # 0.17-0.30 resume even after a partial wake (vLLM #44395); 0.31+ once all awake.
            if self.config.version < v("0.31.0") or not self.sleeping_tags:
                await self.scheduler.set_sleep_pause(PauseState.UNPAUSED)
                self._log_pause_state(PauseState.UNPAUSED)
                if not self.sleeping_tags:
                    self.metrics.set_sleep_state(awake=True, level=None)

    async def _executor_wake(self, tags: list[str] | None) -> None:
        core = self.log.layout.core
        if not self.sleeping_tags:
            self.log.warning(core, "not_sleeping", "Executor is not sleeping.")
            return
        for tag in tags or ():
            if tag not in self.sleeping_tags:
                shown = lines.tag_set(self.sleeping_tags)
                self.log.warning(core, "bad_tag", f"Tag {tag} is not in sleeping tags {shown}")
                return
        waking = list(tags) if tags else sorted(self.sleeping_tags, key=TAGS.index)
        started = time.perf_counter()
        if self.config.enable_sleep_mode:
            await asyncio.to_thread(self.backend.wake, waking)
        elapsed = time.perf_counter() - started
        shown = repr(tags) if tags else lines.tag_set(self.sleeping_tags)
        self.log.info(core, "woke", lines.woke(self.config.version, elapsed, shown))
        self.sleeping_tags -= set(waking)
        # 0.11.1-0.30 report awake after any wake, even partial; 0.31+ only a full one.
        if not self.sleeping_tags or self.config.version < v("0.31.0"):
            self.metrics.set_sleep_state(awake=True, level=None)
        self.metrics.observe_sleep_op("wake", elapsed)

    # --- requests -----------------------------------------------------------------------

    async def step(self, request: Request) -> bool:
        """Wait for the scheduler to run ``request`` once more; False once it is aborted.

        Raises ``EngineDeadError`` when the engine is dead or dies now: a step while sleep
        mode has memory unmapped is the illegal memory access of docs/vllm-behaviour.md §4.
        """
        await self.scheduler.wait_turn(request)
        if self.dead:
            raise EngineDeadError(lines.engine_dead(self.config.version))
        if request.aborted:
            return False
        if self.memory_unmapped:
            await self.crash()
            raise EngineDeadError(lines.engine_dead(self.config.version))
        self.scheduler.start(request)
        return True

    # --- other engine calls ------------------------------------------------------------

    async def reload_weights(self) -> None:
        """``collective_rpc("reload_weights")``: the weights are valid again if mapped."""
        async with self._op_lock:
            if self.config.load_format == "dummy":
                self._log_dummy_reload()
                raise DummyReloadError(lines.DUMMY_RELOAD)
            for worker in self.log.layout.workers:
                self.log.info(worker, "reload", "Reloading weights inplace...")
            started = time.perf_counter()
            await asyncio.to_thread(self.backend.reload_weights)
            elapsed = time.perf_counter() - started
            reloaded = lines.weights_reloaded(self.config.version, elapsed)
            for worker in self.log.layout.workers:
                self.log.info(worker, "reloaded", reloaded)
            if "weights" in self.backend.resident or not self.config.enable_sleep_mode:
                self.weights_valid = True

    def _log_dummy_reload(self) -> None:
        """The engine core's logged traceback, every line under its header (vLLM 0.25.0)."""
        frames = [
            "Invocation of collective_rpc method failed",
            "Traceback (most recent call last):",
            '  File "vllm/v1/engine/core.py", in _invoke_utility_method',
            '  File "vllm/v1/worker/gpu_model_runner.py", in reload_weights',
            f"NotImplementedError: {lines.DUMMY_RELOAD}",
        ]
        for frame in frames:
            self.log.error(self.log.layout.core, "rpc_failed", frame)

    async def release_kv_cache(self) -> None:
        """0.31+: drop the KV cache of a paused, fully awake engine
        (docs/vllm-behaviour.md §2.8)."""
        async with self._op_lock, self._in_flight("release_kv_cache_memory"):
            if not self.scheduler.paused or self.sleeping_tags:
                raise RuntimeError(
                    "release_kv_cache_memory needs a paused engine with all memory resident"
                )
            started = time.perf_counter()
            freed = 0
            if self.config.enable_sleep_mode:
                freed = await asyncio.to_thread(self.backend.discard, "kv_cache")
            elapsed = time.perf_counter() - started
            for worker in self.log.layout.workers:
                message = f"CuMemAllocator: discarded {freed / GIB:.2f} GiB for tags ('kv_cache',)."
                self.log.info(worker, "discarded", message)
            took = f"It took {elapsed:.6f} seconds to discard tags ('kv_cache',)."
            self.log.info(self.log.layout.core, "discard", took)
            self.sleeping_tags = {"kv_cache"}
            self.metrics.set_sleep_state(awake=False, level=None)
            self.metrics.observe_sleep_op("release_kv_cache_memory", elapsed)

    def reset_prefix_cache(self) -> bool:
        """False while running requests still hold blocks (0.26+ reports it)."""
        return not self.scheduler.has_running()

    async def crash(self) -> None:
        """A forward pass touched unmapped memory: log vLLM's crash and go down."""
        if self.dead:
            return
        self.dead = True
        log_crash(self.log, self.config)
        self.scheduler.fail_all()
        self._on_dead()
