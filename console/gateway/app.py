"""The gateway's ASGI application: authenticate, route by model, hold if needed, forward.

Pure ASGI (no Django request cycle on the hot path). Its per-process resources (one
pooled ``httpx.AsyncClient``, one Redis client, the route table and its refresh task)
are made on first use in the serving event loop, and closed on lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable

from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from console.gates.config import GatewayConfig
from console.gateway.accounts import Accounts
from console.gateway.auth import KeyGuard, check_model
from console.gateway.errors import GatewayError, not_found, unavailable
from console.gateway.hold import Asker
from console.gateway.paths import forwardable_path
from console.gateway.proxy import Upstream, forward
from console.gateway.request import (
    ClientGone,
    check_head,
    json_payload,
    model_of,
    read_body,
    watch_disconnect,
)
from console.gateway.routes import KeyEntry, Route
from console.gateway.runtime import Runtime
from console.gateway.usage import Account

log = logging.getLogger(__name__)

# ``GET /v1/models/{model}``: a model id may hold slashes (``facebook/opt-125m``).
_MODEL_PATH = "/v1/models/"


class GatewayApp:
    """``/v1/...`` as an ASGI app; one per process (``console.asgi`` mounts it)."""

    def __init__(self, config: GatewayConfig | None = None) -> None:
        self._config = config
        self._runtime: Runtime | None = None
        self._guard: KeyGuard | None = None  # made with the runtime, on the same loop
        self._accounts: Accounts | None = None  # likewise
        self._starting: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        runtime, guard, accounts = await self._started()
        try:
            await handle(runtime, guard, accounts, scope, receive, send)
        except GatewayError as error:
            await send_error(send, error)
        except ClientGone:
            return
        except RedisError as error:
            # Gates, holds and in-flight marks live in Redis: without it nothing is known
            # about what an engine may take, so nothing is sent to one.
            log.warning("gateway: Redis unavailable: %s: %s", type(error).__name__, error)
            message = f"The gateway cannot reach Redis ({type(error).__name__}); retry later."
            retry = runtime.config.retry_after_seconds
            await send_error(send, unavailable(message, "gateway_unavailable", retry))

    async def _started(self) -> tuple[Runtime, KeyGuard, Accounts]:
        if self._runtime is not None and self._guard is not None and self._accounts is not None:
            return self._runtime, self._guard, self._accounts
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._runtime is None or self._guard is None or self._accounts is None:
                runtime = await Runtime.start(self._config or GatewayConfig.from_settings())
                prefix = runtime.config.redis_prefix
                self._guard = KeyGuard(runtime.redis, runtime.table, prefix)
                lease = runtime.config.request_lease_seconds
                self._accounts = Accounts(runtime.redis, prefix, lease)
                self._runtime = runtime
        return self._runtime, self._guard, self._accounts

    async def aclose(self) -> None:
        if self._accounts is not None:
            await self._accounts.aclose()
            self._accounts = None
        if self._runtime is not None:
            await self._runtime.aclose()
            self._runtime = self._guard = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def handle(
    runtime: Runtime, guard: KeyGuard, accounts: Accounts, scope: Scope, receive: Receive,
    send: Send,
) -> None:  # fmt: skip
    path = forwardable_path(scope["path"], scope.get("raw_path"))
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    check_head(headers)
    client = scope.get("client")
    key = await guard.authenticate(headers, client[0] if client else "unknown")
    if path == "/v1/models" and scope["method"] == "GET":
        allowed = [m for m in runtime.table.models() if key.may_use(m)]
        await send_json(send, 200, models_list(allowed))
        return
    if path.startswith(_MODEL_PATH) and scope["method"] == "GET":
        await send_json(send, 200, await model_card(runtime, key, path[len(_MODEL_PATH) :]))
        return
    body = await read_body(receive, runtime.config.max_body_bytes)
    payload = json_payload(body)
    model = model_of(payload)
    check_model(key, model)
    runtime.table.used_key_ids.add(key.key_id)
    account, body = await accounts.open(key, model, path, payload, body)
    upstream = Upstream(scope["method"], path, scope.get("query_string", b""), headers, body)
    disconnected = asyncio.Event()
    watcher = asyncio.create_task(watch_disconnect(receive, disconnected))
    try:
        asker = Asker(key.name, client[0] if client else "")
        await serve(runtime, model, upstream, send, disconnected, asker, account)
    finally:
        watcher.cancel()
        await accounts.close(account)


async def serve(
    runtime: Runtime,
    model: str,
    upstream: Upstream,
    send: Send,
    disconnected: asyncio.Event,
    asker: Asker,
    account: Account,
) -> None:
    request_id = uuid.uuid4().hex
    asked_at = time.monotonic()
    acquired = runtime.holder.acquire(model, request_id, asker)
    route = await until_disconnected(acquired, disconnected)
    account.held_seconds = time.monotonic() - asked_at
    if route is None:
        await runtime.release_everywhere(model, request_id)
        runtime.tally.add(model, dropped=1)
        return
    try:
        status = await forward(runtime.http, route, upstream, send, disconnected, account.meter)
    except GatewayError:
        runtime.tally.add(model, requests=1, errors=1)
        raise
    finally:
        await runtime.release(route.instance_id, request_id)
    runtime.tally.add(model, requests=1, errors=int(status >= 500))


async def until_disconnected(
    waiting: Awaitable[Route], disconnected: asyncio.Event
) -> Route | None:
    """The route, or None when the client went away first (the hold is cancelled)."""
    task = asyncio.ensure_future(waiting)
    gone = asyncio.create_task(disconnected.wait())
    done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        gone.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, GatewayError):
        await task
    return None


def models_list(models: list[str]) -> dict[str, object]:
    created = int(time.time())
    return {"object": "list", "data": [card(m, created) for m in models]}


def card(model: str, created: int) -> dict[str, object]:
    return {"id": model, "object": "model", "created": created, "owned_by": "vllm-console"}


async def model_card(runtime: Runtime, key: KeyEntry, model: str) -> dict[str, object]:
    """``GET /v1/models/{model}``: answered here (asleep or not), 404 for one the key
    may not use, as for one that does not exist."""
    if not key.may_use(model) or await runtime.holder.lookup_or_none(model) is None:
        raise not_found(f"The model `{model}` does not exist.", "model_not_found")
    return card(model, int(time.time()))


async def send_json(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: GatewayError) -> None:
    await send({"type": "http.response.start", "status": error.status,
                "headers": error.headers()})  # fmt: skip
    await send({"type": "http.response.body", "body": error.body()})
