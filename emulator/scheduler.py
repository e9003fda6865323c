"""Which requests may take a step: the scheduler pause of sleep (0.17+) and of ``/pause``.

``PAUSED_NEW`` holds requests that have not started; ``PAUSED_ALL`` holds every request
(vLLM 0.31+ names, ``setting pause state to ...``). The counts feed the running/waiting
gauges and the KV-cache usage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from emulator.metrics import EngineMetrics
from emulator.physics import BLOCK_SIZE


class PauseState(StrEnum):
    """The scheduler's pause state (vllm 0.33.0 ``v1/core/sched/scheduler.py``)."""

    UNPAUSED = "UNPAUSED"
    PAUSED_NEW = "PAUSED_NEW"
    PAUSED_ALL = "PAUSED_ALL"


@dataclass(eq=False)
class Request:
    """One generation request inside the engine."""

    prompt_tokens: int
    started: bool = False
    aborted: bool = False
    generated: int = 0


class Scheduler:
    """Requests in the engine, and the two pause switches that hold them back."""

    def __init__(self, metrics: EngineMetrics, kv_tokens: int) -> None:
        self.sleep_pause = PauseState.UNPAUSED
        self.api_pause = PauseState.UNPAUSED
        # 0.33: /pause in abort or wait mode rejects new requests with 503 until /resume.
        self.reject_new = False
        self.failed = False
        # Totals for the periodic stats line; the stats logger takes differences.
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self._metrics = metrics
        self._kv_tokens = max(kv_tokens, 1)
        self._requests: list[Request] = []
        self._changed = asyncio.Event()
        self._publish()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        self._publish()

    async def _wait_for(self, condition: Callable[[], bool]) -> None:
        while True:
            changed = self._changed
            if condition():
                return
            await changed.wait()

    def kv_usage(self) -> float:
        """Share of the KV cache the running requests hold (0-1)."""
        held = sum(r.prompt_tokens + r.generated for r in self._requests if r.started)
        return min(held / self._kv_tokens, 1.0)

    def _publish(self) -> None:
        running = sum(1 for r in self._requests if r.started)
        self._metrics.set_load(running, len(self._requests) - running, self.kv_usage())

    def _blocked(self, request: Request) -> bool:
        for state in (self.sleep_pause, self.api_pause):
            if state is PauseState.PAUSED_ALL:
                return True
            if state is PauseState.PAUSED_NEW and not request.started:
                return True
        return False

    @property
    def paused(self) -> bool:
        """Paused by a sleep (0.17+) or by ``/pause``."""
        unpaused = PauseState.UNPAUSED
        return self.sleep_pause is not unpaused or self.api_pause is not unpaused

    def add(self, request: Request) -> None:
        self._requests.append(request)
        self._notify()

    def remove(self, request: Request) -> None:
        self._requests.remove(request)
        self._notify()

    def start(self, request: Request) -> None:
        if not request.started:
            request.started = True
            self.prompt_tokens_total += request.prompt_tokens
        self._notify()

    def token_generated(self, request: Request) -> None:
        request.generated += 1
        self.generation_tokens_total += 1

    async def wait_turn(self, request: Request) -> None:
        await self._wait_for(lambda: self.failed or request.aborted or not self._blocked(request))

    async def set_sleep_pause(self, state: PauseState) -> None:
        self.sleep_pause = state
        self._notify()

    async def set_api_pause(self, state: PauseState) -> None:
        self.api_pause = state
        self._notify()

    async def abort_all(self) -> None:
        for request in self._requests:
            request.aborted = True
        self._notify()

    async def wait_idle(self) -> None:
        await self._wait_for(lambda: not self.has_running())

    def fail_all(self) -> None:
        self.failed = True
        self._notify()

    def held_blocks(self) -> int:
        """KV blocks the running requests hold (what a prefix-cache reset waits for)."""
        running = [r for r in self._requests if r.started and not r.aborted]
        return sum(-(-(r.prompt_tokens + r.generated) // BLOCK_SIZE) for r in running)

    def waiting_count(self) -> int:
        return sum(1 for r in self._requests if not r.started)

    def running_count(self) -> int:
        return sum(1 for r in self._requests if r.started and not r.aborted)

    def has_running(self) -> bool:
        return self.running_count() > 0
