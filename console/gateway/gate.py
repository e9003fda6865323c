"""The web side of the gate: admit a request to an engine, or say it must be held.

A request is forwarded only when the route table says the instance is awake *and* the
Redis gate is open; the admission also marks it in flight in the same atomic step, so a
sleep that closes the gate afterwards waits for it (``drain``), and one that closed it
before is never raced.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from console.gates import redis_keys, scripts
from console.gates.config import GatewayConfig
from console.gateway.routes import Route
from console.models import InstanceState


class AsyncGate:
    """Admission, release and the reopening of gates left closed by finished sleeps."""

    def __init__(self, redis: Redis, config: GatewayConfig) -> None:
        self.redis = redis
        self.prefix = config.redis_prefix
        self.lease = config.request_lease_seconds
        self._admit = redis.register_script(scripts.ADMIT)
        self._reopen = redis.register_script(scripts.REOPEN_STALE)

    async def admit(self, route: Route, request_id: str) -> bool:
        """True when the request may go to the engine now (and is marked in flight)."""
        if route.state != InstanceState.AWAKE:
            await self.touch(route.instance_id)
            return False
        p, pk = self.prefix, route.instance_id
        admitted = await self._admit(
            keys=[
                redis_keys.gate(p, pk),
                redis_keys.inflight(p, pk),
                redis_keys.last_request(p, pk),
            ],
            args=[request_id, self.lease],
        )
        return bool(admitted)

    async def touch(self, instance_id: int) -> None:
        """A held request is activity too: the idle policy must not sleep what is wanted."""
        now = await self.redis.time()
        await self.redis.set(
            redis_keys.last_request(self.prefix, instance_id), f"{now[0] + now[1] / 1e6:.3f}"
        )

    async def release(self, instance_id: int, request_id: str) -> None:
        await self.redis.zrem(redis_keys.inflight(self.prefix, instance_id), request_id)

    async def reopen_stale(self, routes: Sequence[Route]) -> int:
        """Open the gates of instances awake again since the sleep that closed them."""
        awake = [r for r in routes if r.state == InstanceState.AWAKE]
        if not awake:
            return 0
        gate_keys = [redis_keys.gate(self.prefix, r.instance_id) for r in awake]
        return int(await self._reopen(keys=gate_keys, args=[r.episode for r in awake]))
