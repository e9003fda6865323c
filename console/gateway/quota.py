"""Per-key limits: requests and tokens per minute, requests in flight; over one -> 429.

Every web process shares the counts in Redis, and a request's check is one Lua script
(one round trip, atomic), made only for keys that have a limit. The minute is a sliding
window of 60 one-second slots, counted by Redis' clock: a request is admitted when the
requests of the last 60 s are under ``requests_per_minute`` and the tokens already used
in them are under ``tokens_per_minute`` (tokens are known only once the answer is
complete, so they are added after it, and judged on the next request). ``Retry-After``
is when enough slots leave the window for the next request to pass. A request in flight
holds a lease in a sorted set until it ends however it ends (answer, client gone, error);
a web process that dies mid-request leaves a lease that expires after
``request_lease_seconds``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from console.gateway.errors import GatewayError

# KEYS: request slots, token slots (hashes second -> count), leases (sorted set).
# ARGV: requests per minute, tokens per minute, max in flight (0: no limit), lease id,
# lease seconds. Returns {0} when admitted, else {1, limit name, seconds to wait}.
_ADMIT = """
local clock = redis.call('TIME')
local second = tonumber(clock[1])
local now = second + tonumber(clock[2]) / 1000000
local function window(key)
  local raw = redis.call('HGETALL', key)
  local slots, total, stale = {}, 0, {}
  for i = 1, #raw, 2 do
    local slot, count = tonumber(raw[i]), tonumber(raw[i + 1])
    if slot <= second - 60 then
      stale[#stale + 1] = raw[i]
    else
      slots[#slots + 1] = {slot, count}
      total = total + count
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(slots, function(a, b) return a[1] < b[1] end)
  return slots, total
end
local function wait(slots, total, allowed)
  for _, slot in ipairs(slots) do
    total = total - slot[2]
    if total <= allowed then return math.max(1, math.ceil(slot[1] + 60 - now)) end
  end
  return 60
end
local rpm, tpm, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if rpm > 0 then
  local slots, total = window(KEYS[1])
  if total >= rpm then return {1, 'requests_per_minute', wait(slots, total, rpm - 1)} end
end
if tpm > 0 then
  local slots, total = window(KEYS[2])
  if total >= tpm then return {1, 'tokens_per_minute', wait(slots, total, tpm - 1)} end
end
if most > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= most then return {1, 'max_concurrent', 1} end
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('EXPIRE', KEYS[3], math.ceil(tonumber(ARGV[5])))
end
if rpm > 0 then
  redis.call('HINCRBY', KEYS[1], second, 1)
  redis.call('EXPIRE', KEYS[1], 61)
end
return {0}
"""
# KEYS: token slots, leases. ARGV: tokens to add (0: none), lease id ('': none).
_SETTLE = """
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  redis.call('HINCRBY', KEYS[1], redis.call('TIME')[1], tokens)
  redis.call('EXPIRE', KEYS[1], 61)
end
if ARGV[2] ~= '' then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 0
"""
_MESSAGES = {
    "requests_per_minute": "This key's limit of {limit} requests per minute is reached",
    "tokens_per_minute": "This key's limit of {limit} tokens per minute is reached",
    "max_concurrent": "This key already has {limit} requests in flight, its limit",
}


@dataclass(frozen=True)
class Limits:
    """A key's limits; None: unlimited."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrent: int | None = None

    def __bool__(self) -> bool:
        return any((self.requests_per_minute, self.tokens_per_minute, self.max_concurrent))


@dataclass(frozen=True)
class Lease:
    """What an admitted request must give back when it ends."""

    key_id: int
    counts_tokens: bool
    lease_id: str


def quota_key(prefix: str, key_id: int, what: str) -> str:
    """``requests`` and ``tokens``: hashes of one-second slots; ``inflight``: leases."""
    return f"{prefix}gw:quota:{key_id}:{what}"


class Quota:
    """Admits a key's requests within its limits, for all web processes at once."""

    def __init__(self, redis: Redis, prefix: str, lease_seconds: float) -> None:
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._admit = redis.register_script(_ADMIT)
        self._settle = redis.register_script(_SETTLE)

    def _keys(self, key_id: int) -> list[str]:
        return [quota_key(self.prefix, key_id, what) for what in ("requests", "tokens", "inflight")]

    async def admit(self, key_id: int, limits: Limits) -> Lease | None:
        """A lease for the request (None when the key has no limit); 429 over a limit."""
        if not limits:
            return None
        lease_id = uuid.uuid4().hex if limits.max_concurrent else ""
        args: list[str | float] = [limits.requests_per_minute or 0, limits.tokens_per_minute or 0,
                limits.max_concurrent or 0, lease_id, self.lease_seconds]  # fmt: skip
        verdict = await self._admit(keys=self._keys(key_id), args=args)
        if int(verdict[0]):
            raise over_limit(_text(verdict[1]), limits, int(verdict[2]))
        return Lease(key_id, bool(limits.tokens_per_minute), lease_id)

    async def settle(self, lease: Lease, tokens: int) -> None:
        """Give the request's place back and count its tokens in the window."""
        tokens = tokens if lease.counts_tokens else 0
        if tokens or lease.lease_id:
            keys = self._keys(lease.key_id)
            await self._settle(keys=[keys[1], keys[2]], args=[tokens, lease.lease_id])


def over_limit(name: str, limits: Limits, retry: int) -> GatewayError:
    message = _MESSAGES[name].format(limit=getattr(limits, name))
    return GatewayError(
        429, f"{message}; retry in {retry} s.", "tokens" if name.startswith("tokens") else
        "requests", "rate_limit_exceeded", param=name, retry_after=retry,
    )  # fmt: skip


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
