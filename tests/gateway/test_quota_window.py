"""The quota script on its own (real Redis, no gateway): the sliding window's arithmetic.

Slots are preloaded at chosen seconds before Redis' clock, so each ``Retry-After`` is known
to the second without waiting for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from django.conf import settings
from redis.asyncio import Redis

from console.gateway.errors import GatewayError
from console.gateway.quota import Limits, Quota, quota_key

PREFIX = settings.REDIS_PREFIX
KEY_ID = 999_001


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.REDIS_URL)
    for what in ("requests", "tokens", "inflight"):
        await client.delete(quota_key(PREFIX, KEY_ID, what))
    yield client
    await client.aclose()


async def used(redis: Redis, what: str, seconds_ago: int, count: int) -> None:
    now = int((await redis.time())[0])
    await redis.hset(quota_key(PREFIX, KEY_ID, what), str(now - seconds_ago), count)


async def refusal(quota: Quota, limits: Limits) -> GatewayError:
    with pytest.raises(GatewayError) as refused:
        await quota.admit(KEY_ID, limits)
    assert refused.value.status == 429
    return refused.value


async def test_retry_after_is_when_the_oldest_slot_leaves_the_window(redis: Redis) -> None:
    await used(redis, "requests", 50, 2)
    await used(redis, "requests", 20, 1)
    error = await refusal(Quota(redis, PREFIX, 900), Limits(requests_per_minute=3))
    assert error.retry_after in (9, 10)  # the slot 50 s old leaves within 10 s


async def test_retry_after_waits_for_as_many_slots_as_the_next_request_needs(
    redis: Redis,
) -> None:
    await used(redis, "tokens", 50, 100)
    await used(redis, "tokens", 20, 100)
    error = await refusal(Quota(redis, PREFIX, 900), Limits(tokens_per_minute=100))
    assert error.retry_after in (39, 40)  # both must leave: 200 used, under 100 needed
    assert (error.error_type, error.param) == ("tokens", "tokens_per_minute")


async def test_slots_older_than_a_minute_no_longer_count(redis: Redis) -> None:
    await used(redis, "requests", 60, 5)
    await used(redis, "requests", 61, 5)
    lease = await Quota(redis, PREFIX, 900).admit(KEY_ID, Limits(requests_per_minute=1))
    assert lease is not None
    slots = await redis.hgetall(quota_key(PREFIX, KEY_ID, "requests"))
    assert list(slots.values()) == [b"1"]  # the stale ones are gone, this request counted


async def test_a_token_limit_is_judged_on_tokens_already_used(redis: Redis) -> None:
    quota = Quota(redis, PREFIX, 900)
    limits = Limits(tokens_per_minute=10)
    lease = await quota.admit(KEY_ID, limits)
    assert lease is not None
    await quota.settle(lease, 25)  # the answer crossed the limit: it was served anyway
    await refusal(quota, limits)


async def test_a_settled_lease_frees_its_place(redis: Redis) -> None:
    quota = Quota(redis, PREFIX, 900)
    limits = Limits(max_concurrent=1)
    lease = await quota.admit(KEY_ID, limits)
    assert lease is not None
    assert (await refusal(quota, limits)).retry_after == 1
    await quota.settle(lease, 0)
    assert await quota.admit(KEY_ID, limits) is not None


async def test_an_expired_lease_frees_its_place(redis: Redis) -> None:
    now = float(int((await redis.time())[0]))
    await redis.zadd(quota_key(PREFIX, KEY_ID, "inflight"), {"lost-process": now - 1})
    assert await Quota(redis, PREFIX, 900).admit(KEY_ID, Limits(max_concurrent=1)) is not None


async def test_a_key_without_limits_is_not_checked(redis: Redis) -> None:
    assert await Quota(redis, PREFIX, 900).admit(KEY_ID, Limits()) is None
    assert not await redis.exists(quota_key(PREFIX, KEY_ID, "requests"))
