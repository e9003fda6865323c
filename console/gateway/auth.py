"""Inference keys on the hot path: ``Authorization: Bearer vlc-...`` checked against the table.

Each request with a key makes one Redis round trip before the key is judged: the keys'
version token (``keyversion``: the table is reloaded first when a key changed since it was
loaded, so a revoked key is refused by every web process at once) and its address's
count of wrong keys. A wrong key is then known wrong without a database read, and counted:
past ``FAILURES_PER_MINUTE`` the address's wrong keys get 429 until the minute is over.
Its right keys are still served: clients behind one proxy or NAT share an address, and
one of them must not lock the others out; a hit cannot be guessed anyway (keys carry 256
random bits), so the throttle is there to make guessing cost its sender, not the console.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from console.gateway.errors import GatewayError, unauthorized
from console.gateway.keyversion import version_key
from console.gateway.proxy import Headers
from console.gateway.routes import KeyEntry, RouteTable
from console.models.gateway import hash_key

FAILURES_PER_MINUTE = 20
_WINDOW_SECONDS = 60
# KEYS: the address's failure count. ARGV: the window. One atomic step for all processes.
_COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_NOT_LOADED = b"(not loaded)"


def failures_key(prefix: str, address: str) -> str:
    """Integer expiring a minute after the first: wrong keys an address sent in that time."""
    return f"{prefix}gw:key-failures:{address}"


def bearer(headers: Headers) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class KeyGuard:
    """Judges a request's key: current table, wrong keys counted per address."""

    def __init__(self, redis: Redis, table: RouteTable, prefix: str) -> None:
        self.redis = redis
        self.table = table
        self.prefix = prefix
        self._loaded_version: bytes | None = _NOT_LOADED
        self._reloading = asyncio.Lock()
        self._count_failure = redis.register_script(_COUNT_FAILURE)

    async def authenticate(self, headers: Headers, address: str) -> KeyEntry:
        key = bearer(headers)
        if key is None:
            raise unauthorized(
                "You didn't provide an API key. Send an inference key as "
                "'Authorization: Bearer KEY'."
            )
        failures = failures_key(self.prefix, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(version_key(self.prefix))
            pipe.get(failures)
            pipe.ttl(failures)
            version, count, ttl = await pipe.execute()
        await self._current(version)
        entry = self.table.key(hash_key(key))
        if entry is not None:
            return entry
        if int(count or 0) >= FAILURES_PER_MINUTE:
            raise throttled(int(ttl))
        await self._count_failure(keys=[failures], args=[_WINDOW_SECONDS])
        raise unauthorized("Incorrect or revoked API key provided.")

    async def _current(self, version: bytes | None) -> None:
        """Reload the table unless it was loaded under ``version`` (read before the load:
        a change announced during it makes the next request reload again)."""
        if version == self._loaded_version:
            return
        async with self._reloading:
            if version != self._loaded_version:
                await self.table.refresh()
                self._loaded_version = version


def throttled(ttl: int) -> GatewayError:
    retry = max(ttl, 1)
    return GatewayError(
        429, f"Too many wrong API keys from this address; retry in {retry} s.", "requests",
        "rate_limit_exceeded", retry_after=retry,
    )  # fmt: skip


def check_model(entry: KeyEntry, model: str) -> None:
    if not entry.may_use(model):
        raise GatewayError(
            403, f"This key may not use the model `{model}`.", "permission_error",
            "model_not_allowed", param="model",
        )  # fmt: skip
