"""One generation request: admission, token pacing, garbage weights, metrics.

Each token is one scheduler step (``Engine.step``), so a sleep, a ``/pause`` or a crash
acts between two tokens exactly as it would between two forward passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from emulator import textgen
from emulator.engine import Engine
from emulator.scheduler import Request


class Generation:
    """The answer to one prompt, produced token by token by ``tokens()``."""

    def __init__(self, engine: Engine, prompt: str, max_tokens: int | None) -> None:
        self._engine = engine
        natural = textgen.natural_length(prompt)
        prompt_tokens = textgen.count_prompt_tokens(prompt)
        room = max(engine.config.max_model_len - prompt_tokens, 1)
        limit = min(max_tokens, room) if max_tokens is not None else room
        self._planned = textgen.answer_tokens(prompt, min(natural, limit))
        self._natural_reason = "length" if limit < natural else "stop"
        self.request = Request(prompt_tokens)
        self.finish_reason: str | None = None
        self.text = ""

    @property
    def prompt_tokens(self) -> int:
        return self.request.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.request.generated

    async def tokens(self) -> AsyncIterator[str]:
        """Yield each token's text; ``EngineDeadError`` propagates when the engine dies."""
        engine = self._engine
        config = engine.config
        pace = config.time_scale / config.tokens_per_second
        started = time.perf_counter()
        first_token: float | None = None
        engine.scheduler.add(self.request)
        try:
            for planned in self._planned:
                if not await engine.step(self.request):
                    self.finish_reason = "abort"
                    return
                await asyncio.sleep(pace)
                token = planned if engine.weights_valid else textgen.GARBAGE_TOKEN
                engine.scheduler.token_generated(self.request)
                first_token = first_token or time.perf_counter() - started
                self.text += token
                yield token
            self.finish_reason = self._natural_reason
        finally:
            engine.scheduler.remove(self.request)
            if self.finish_reason is not None:
                engine.metrics.request_done(
                    self.prompt_tokens,
                    self.completion_tokens,
                    self.finish_reason,
                    first_token,
                    time.perf_counter() - started,
                )

    async def run(self) -> str:
        """The whole answer (non-streaming requests)."""
        async for _ in self.tokens():
            pass
        return self.text
