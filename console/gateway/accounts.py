"""A key's requests through the gateway: admitted within its limits, and accounted for.

``open`` is the one Redis round trip a request with a limited key pays before its engine
call (none for a key without limits); ``close`` runs after the answer has been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from console.gateway.errors import GatewayError
from console.gateway.quota import Quota
from console.gateway.routes import KeyEntry
from console.gateway.usage import Account, UsageBook, UsageMeter, ask_for_usage

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0


class Accounts:
    """Per process: the shared quota and this process's usage counts (and their flush)."""

    def __init__(self, redis: Redis, prefix: str, lease_seconds: float) -> None:
        self.redis = redis
        self.quota = Quota(redis, prefix, lease_seconds)
        self.book = UsageBook(prefix)
        self._flusher = asyncio.create_task(self.book.flush_every(redis, FLUSH_SECONDS))

    async def open(
        self, key: KeyEntry, model: str, path: str, payload: dict[str, object], body: bytes
    ) -> tuple[Account, bytes]:
        """The request's account and the body to send; 429 when over a limit."""
        try:
            lease = await self.quota.admit(key.key_id, key.limits)
        except GatewayError:
            self.book.add(key.key_id, model, rejected=1)
            raise
        body, strip = ask_for_usage(path, payload, body)
        meter = UsageMeter(stream=payload.get("stream") is True, strip=strip)
        return Account(key.key_id, model, meter, lease), body

    async def close(self, account: Account) -> None:
        """Count what the request used and give its lease back (the lease expires anyway
        when Redis cannot be reached now)."""
        self.book.close(account)
        if account.lease is None:
            return
        tokens = account.meter.tokens
        try:
            await self.quota.settle(account.lease, tokens.total if tokens else 0)
        except RedisError as error:
            log.warning(
                "gateway: a key's lease is left to expire: %s: %s", type(error).__name__, error
            )

    async def aclose(self) -> None:
        self._flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flusher
        with contextlib.suppress(RedisError):
            await self.book.flush(self.redis)
