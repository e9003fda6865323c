"""A web process's gateway resources, bound to its event loop, and their refresh task."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from console.gates import changes, redis_keys
from console.gates.config import GatewayConfig
from console.gateway.figures import Tally
from console.gateway.gate import AsyncGate
from console.gateway.hold import Holder
from console.gateway.routes import RouteTable, Snapshot
from console.models import InstanceState

log = logging.getLogger(__name__)

# While requests are held, the table is reloaded this often: state changes are pushed
# (``_listen``), this only covers one lost while the listener reconnected.
_HOLDING_REFRESH_SECONDS = 0.5
# The listener's reconnect backoff after Redis went away.
_LISTEN_RETRY_SECONDS = (0.1, 5.0)


def connect(url: str) -> Redis:
    """The gateway's Redis client. A pooled connection that a restarted Redis closed is found
    out only when a command is sent on it: that command is sent again at once, on a new
    connection. Once only: a Redis that is down gets its 503 without delay."""
    retry = Retry(NoBackoff(), 1)
    return Redis.from_url(url, retry=retry, retry_on_error=[RedisConnectionError])


class Runtime:
    """One pooled HTTP client, one Redis client, the route table, the gate, the holder."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.redis = connect(config.redis_url)
        # Idle connections are dropped before the engine drops them: vLLM's uvicorn closes a
        # keep-alive connection after 5 s (VLLM_HTTP_TIMEOUT_KEEP_ALIVE), and a request sent
        # on one it is closing at that moment fails with a ReadError.
        limits = httpx.Limits(
            max_connections=1024, max_keepalive_connections=256, keepalive_expiry=2.0
        )
        timeout = httpx.Timeout(config.upstream_timeout, connect=5.0)
        self.http = httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)
        self.gate = AsyncGate(self.redis, config)
        self.table = RouteTable(on_load=self._on_load)
        self.tally = Tally()
        self.holder = Holder(self.table, self.gate, self.redis, config, self.tally)
        self._refresher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, config: GatewayConfig) -> Runtime:
        runtime = cls(config)
        await runtime.table.refresh()
        runtime._refresher = asyncio.create_task(runtime._refresh_forever())
        runtime._listener = asyncio.create_task(runtime._listen_forever())
        return runtime

    async def _listen_forever(self) -> None:
        """Apply pushed state changes as they come; reconnect (and reload) after a loss."""
        retry, most = _LISTEN_RETRY_SECONDS
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(changes.channel(self.config.redis_prefix))
                    retry = _LISTEN_RETRY_SECONDS[0]
                    # Changes made while this listener was away are read now.
                    await self.table.refresh()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self._on_change(message["data"])
            except RedisError as error:
                log.warning(
                    "gateway: state-change listener lost Redis (%s: %s); retrying",
                    type(error).__name__,
                    error,
                )
            await asyncio.sleep(retry)
            retry = min(retry * 2, most)

    async def _on_change(self, raw: bytes) -> None:
        try:
            change = changes.StateChange.from_json(raw)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("gateway: ignored a malformed state change %r: %r", raw[:200], error)
            return
        route = self.table.apply(change)
        if route is None:  # an instance this process has not loaded yet
            await self.table.refresh_for_miss()
            return
        if route.state == InstanceState.AWAKE:
            await self.gate.reopen_stale([route])
        self.table.wake_waiters()

    async def _on_load(self, snapshot: Snapshot) -> None:
        await self.gate.reopen_stale([r for routes in snapshot.routes.values() for r in routes])

    async def _refresh_forever(self) -> None:
        while True:
            held = self.holder.holding > 0
            await asyncio.sleep(_HOLDING_REFRESH_SECONDS if held else self.config.refresh_seconds)
            try:
                await self.table.refresh()
                await self.tally.flush(self.redis, self.config.redis_prefix)
            except Exception:
                # A database or Redis hiccup must not stop the refreshes: the next one retries.
                log.exception("gateway route refresh failed")

    async def release(self, instance_id: int, request_id: str) -> None:
        """Drop the in-flight mark of a request that was answered (its answer is sent: a Redis
        failure here only leaves the mark to expire with its lease)."""
        try:
            await self.gate.release(instance_id, request_id)
        except RedisError as error:
            log.warning(
                "gateway: could not release request %s: %s: %s",
                request_id,
                type(error).__name__,
                error,
            )

    async def release_everywhere(self, model: str, request_id: str) -> None:
        """Drop a request's in-flight mark on every instance of the model (after a cancel)."""
        for route in self.table.snapshot.routes.get(model, []):
            await self.redis.zrem(redis_keys.inflight(self.config.redis_prefix, route.instance_id),
                                  request_id)  # fmt: skip

    async def aclose(self) -> None:
        for task in (self._refresher, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.http.aclose()
        try:
            await self.tally.flush(self.redis, self.config.redis_prefix)
        except RedisError as error:
            log.warning("gateway: figures since the last flush are lost at shutdown: %s: %s",
                        type(error).__name__, error)  # fmt: skip
        await self.redis.aclose()
