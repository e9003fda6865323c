"""The periodic throughput line, every ``VLLM_LOG_STATS_INTERVAL`` seconds
(docs/vllm-behaviour.md §5.4).

vLLM logs it at INFO while requests run or tokens were produced in the interval, and at
DEBUG (not shown) when idle; ``--disable-log-stats`` turns it off.
"""

from __future__ import annotations

import asyncio
import time

from emulator.engine import Engine
from engines.versions import v


def _line(engine: Engine, prompt_rate: float, generation_rate: float) -> str:
    scheduler = engine.scheduler
    running, waiting = scheduler.running_count(), scheduler.waiting_count()
    rates = (
        f"Avg prompt throughput: {prompt_rate:.1f} tokens/s, "
        f"Avg generation throughput: {generation_rate:.1f} tokens/s, "
    )
    usage = scheduler.kv_usage() * 100
    if engine.config.version < v("0.8.0"):
        return (
            f"{rates}Running: {running} reqs, Swapped: 0 reqs, Pending: {waiting} reqs, "
            f"GPU KV cache usage: {usage:.1f}%, CPU KV cache usage: 0.0%."
        )
    return (
        f"Engine 000: {rates}Running: {running} reqs, Waiting: {waiting} reqs, "
        f"GPU KV cache usage: {usage:.1f}%, Prefix cache hit rate: 0.0%"
    )


async def log_stats_forever(engine: Engine, interval: float) -> None:
    """Log the line each interval in which something happened, until cancelled."""
    scheduler = engine.scheduler
    last = time.perf_counter()
    prompt, generation = scheduler.prompt_tokens_total, scheduler.generation_tokens_total
    while True:
        await asyncio.sleep(interval)
        now = time.perf_counter()
        new_prompt = scheduler.prompt_tokens_total - prompt
        new_generation = scheduler.generation_tokens_total - generation
        busy = scheduler.running_count() or scheduler.waiting_count()
        if new_prompt or new_generation or busy:
            line = _line(engine, new_prompt / (now - last), new_generation / (now - last))
            engine.log.info(engine.log.layout.api, "stats", line)
        last, prompt, generation = (
            now,
            scheduler.prompt_tokens_total,
            scheduler.generation_tokens_total,
        )
