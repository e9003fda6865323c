"""What each key used: tokens read from the engines' answers, counted per key, model, hour.

Tokens come from the ``usage`` object vLLM puts in an answer. A streamed answer carries
it only when asked for (``stream_options.include_usage``, vLLM 0.5.0 and later), so the
gateway asks for it when the client did not, and then drops that extra chunk (the one
with ``"choices": []`` and the usage) from what the client sees. An answer without usage
(an error, a path other than completions and chat) counts as a request with no tokens.

The counts are added in memory as answers end and written to Redis about once a second
(one pipeline per process); a beat task moves them to the database (``usage_store``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from console.gateway.quota import Lease

log = logging.getLogger(__name__)

USAGE_COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "held_seconds", "rejected")
# The OpenAI paths whose answers carry ``usage`` and accept ``stream_options``.
_METERED_PATHS = frozenset({"/v1/completions", "/v1/chat/completions"})
# A whole answer larger than this is passed on without being read for its usage.
MAX_READ_BYTES = 16 << 20
_EVENT_END = b"\n\n"


def pending_key(prefix: str) -> str:
    """Hash: JSON ``[hour, key id, model, counter]`` -> amount not yet in the database."""
    return f"{prefix}gw:usage:pending"


@dataclass(frozen=True)
class Tokens:
    prompt: int
    completion: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def tokens_of(payload: object) -> Tokens | None:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens") or 0
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Tokens(max(prompt, 0), max(completion, 0))


def ask_for_usage(path: str, payload: dict[str, object], body: bytes) -> tuple[bytes, bool]:
    """The body to send, and whether the usage chunk was asked for on the client's behalf."""
    options = payload.get("stream_options")
    if path not in _METERED_PATHS or payload.get("stream") is not True:
        return body, False
    if options is not None and not isinstance(options, dict):
        return body, False  # the engine answers 400 for it, as it would without the gateway
    if options and options.get("include_usage") is True:
        return body, False
    asked = {**payload, "stream_options": {**(options or {}), "include_usage": True}}
    return json.dumps(asked, ensure_ascii=False).encode(), True


class UsageMeter:
    """Reads an answer as it passes for its usage; ``feed`` returns what the client gets."""

    def __init__(self, stream: bool, strip: bool) -> None:
        self.stream = stream
        self.strip = strip
        self.tokens: Tokens | None = None
        self._pending = b""  # a stream's event not complete yet
        self._whole: list[bytes] = []  # an answer read whole
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        if not self.stream:
            self._size += len(chunk)
            if self._size <= MAX_READ_BYTES:
                self._whole.append(chunk)
            else:
                self._whole.clear()
            return chunk
        events = (self._pending + chunk).split(_EVENT_END)
        self._pending = events.pop()
        return b"".join(self._passed(event) for event in events)

    def finish(self) -> bytes:
        """The end of the answer: what is left to pass on."""
        rest, self._pending = self._pending, b""
        if self._whole:
            with contextlib.suppress(ValueError):
                self.tokens = tokens_of(json.loads(b"".join(self._whole)))
        return rest

    def _passed(self, event: bytes) -> bytes:
        if b'"usage"' in event and event.startswith(b"data: {"):
            with contextlib.suppress(ValueError):
                payload = json.loads(event[len(b"data: ") :])
                self.tokens = tokens_of(payload) or self.tokens
                if self.strip and payload.get("choices") == []:
                    return b""
        return event + _EVENT_END


@dataclass
class Account:
    """One admitted request's account, filled in as it goes."""

    key_id: int
    model: str
    meter: UsageMeter
    lease: Lease | None = None
    held_seconds: float = 0.0


@dataclass
class UsageBook:
    """Per-process usage counts, flushed to Redis in one pipeline about once a second."""

    prefix: str
    pending: dict[tuple[int, int, str], dict[str, float]] = field(default_factory=dict)

    def add(self, key_id: int, model: str, **counts: float) -> None:
        hour = int(time.time()) // 3600 * 3600
        bucket = self.pending.setdefault((hour, key_id, model), {})
        for name, value in counts.items():
            bucket[name] = bucket.get(name, 0.0) + value

    def close(self, account: Account) -> None:
        tokens = account.meter.tokens or Tokens(0, 0)
        self.add(
            account.key_id, account.model, requests=1, prompt_tokens=tokens.prompt,
            completion_tokens=tokens.completion, held_seconds=account.held_seconds,
        )  # fmt: skip

    async def flush(self, redis: Redis) -> None:
        pending, self.pending = self.pending, {}
        if not pending:
            return
        pipe = redis.pipeline(transaction=False)
        for (hour, key_id, model), counts in pending.items():
            for name, value in counts.items():
                if value:
                    field_name = json.dumps([hour, key_id, model, name])
                    pipe.hincrbyfloat(pending_key(self.prefix), field_name, value)
        try:
            await pipe.execute()
        except RedisError as error:
            log.warning(
                "gateway: usage counts kept for the next flush: %s: %s", type(error).__name__, error
            )
            self._keep(pending)

    def _keep(self, counts: dict[tuple[int, int, str], dict[str, float]]) -> None:
        for (hour, key_id, model), values in counts.items():
            bucket = self.pending.setdefault((hour, key_id, model), {})
            for name, value in values.items():
                bucket[name] = bucket.get(name, 0.0) + value

    async def flush_every(self, redis: Redis, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.flush(redis)
