"""The gateway's Redis client after Redis restarted under it.

Its pool still holds connections the old server closed; the asyncio client finds one out
only when a command sent on it reads "Connection closed by server". Such a command is sent
again on a new connection (CI saw a request answered 503 just after Redis came back).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from console.gateway.runtime import connect
from tests.support.emulator import free_port
from tests.support.redis_server import redis_server
from tests.support.redis_server import stop as redis_stop

POOLED = 6


async def fill_pool(redis: Redis) -> None:
    """``POOLED`` connections in the pool, each used and idle: blocking pops held at once."""
    await asyncio.gather(*(redis.blpop([f"nothing-{n}"], timeout=0.1) for n in range(POOLED)))


def commands_after_restart(redis: Redis, port: int, data_dir: Path) -> list[str]:
    """Fill ``redis``'s pool, restart the server, then send ``POOLED`` INCRs one by one."""

    async def run() -> list[str]:
        outcomes: list[str] = []
        try:
            with redis_server(port, data_dir) as first:
                await fill_pool(redis)
                redis_stop(first)
            with redis_server(port, data_dir):
                for _ in range(POOLED):
                    try:
                        outcomes.append(str(await redis.incr("counted")))
                    except RedisConnectionError as error:
                        outcomes.append(f"failed: {error}")
        finally:
            await redis.aclose()
        return outcomes

    return asyncio.run(run())


def test_every_command_after_a_restart_is_answered_once(tmp_path: Path) -> None:
    port = free_port()
    outcomes = commands_after_restart(connect(f"redis://127.0.0.1:{port}/0"), port, tmp_path)
    # Each INCR ran exactly once on the new server: none failed, none was sent twice.
    assert outcomes == [str(n) for n in range(1, POOLED + 1)]
