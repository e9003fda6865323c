"""Wrong keys are throttled per address and cost no database read; a revoked key is refused
by every web process at once.

Before: each wrong key reloaded the route table (4,000 in 16 s pushed a valid key's p50
from 1.8 to 111 ms) and nothing slowed the guessing down; a revoked key kept working until
each process's next periodic reload (0.5 s, 422 requests).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from redis.asyncio import Redis

from console.gateway.auth import FAILURES_PER_MINUTE, KeyGuard, failures_key
from console.gateway.errors import GatewayError
from console.gateway.routes import RouteTable
from console.models.gateway import InferenceKey
from tests.gateway.conftest import GatewayFactory, bearer


def models_status(gateway: str, key: str, client: httpx.Client | None = None) -> httpx.Response:
    return (client or httpx).get(f"{gateway}/v1/models", headers=bearer(key), timeout=10)


def send_wrong_keys(gateway: str, count: int) -> list[int]:
    return [models_status(gateway, f"vlc-wrong-{i}").status_code for i in range(count)]


def test_wrong_keys_past_the_limit_get_429_with_retry_after_in_openai_shape(
    gateway: str, transactional_db: None
) -> None:
    assert send_wrong_keys(gateway, FAILURES_PER_MINUTE) == [401] * FAILURES_PER_MINUTE
    response = models_status(gateway, "vlc-one-more")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "rate_limit_exceeded"


def test_a_throttled_address_still_gets_its_right_keys_served(
    gateway: str, inference_key: str
) -> None:
    """Clients behind one proxy share an address: one sending wrong keys must not lock the
    others out (and a hit cannot be guessed: keys carry 256 random bits)."""
    send_wrong_keys(gateway, FAILURES_PER_MINUTE)
    assert models_status(gateway, "vlc-one-more").status_code == 429
    assert models_status(gateway, inference_key).status_code == 200


def test_the_throttle_is_per_client_address(gateway: str, inference_key: str) -> None:
    send_wrong_keys(gateway, FAILURES_PER_MINUTE)
    # Another loopback address is another client (Linux routes all of 127/8 to lo).
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        assert models_status(gateway, inference_key, other).status_code == 200
        assert models_status(gateway, "vlc-wrong", other).status_code == 401


def test_a_revoked_key_is_refused_at_once_by_every_web_process(
    gateway_factory: GatewayFactory, transactional_db: None
) -> None:
    gateways = [gateway_factory(), gateway_factory(UPSTREAM_TIMEOUT="599")]
    for round_ in range(5):
        row, key = InferenceKey.issue(f"revoked-{round_}", [])
        assert [models_status(g, key).status_code for g in gateways] == [200, 200]
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])  # as the keys page and the API revoke
        assert [models_status(g, key).status_code for g in gateways] == [401, 401]


def test_wrong_keys_are_judged_without_reloading_the_table(transactional_db: None) -> None:
    """A table loaded under the current keys version knows every usable key: a miss is
    final, with no database read (each reload is one, and counts in ``generation``)."""

    async def scenario() -> None:
        redis = Redis.from_url(settings.REDIS_URL)
        table = RouteTable()
        guard = KeyGuard(redis, table, settings.REDIS_PREFIX)
        _, key = await asyncio.to_thread(InferenceKey.issue, "known", [])
        await guard.authenticate(bearer_headers(key), "192.0.2.1")
        loaded = table.generation
        for i in range(50):
            with pytest.raises(GatewayError) as refused:
                await guard.authenticate(bearer_headers(f"vlc-wrong-{i}"), f"192.0.2.{i + 2}")
            assert refused.value.status == 401
        assert table.generation == loaded, "a wrong key reloaded the table"
        assert await redis.get(failures_key(settings.REDIS_PREFIX, "192.0.2.2")) == b"1"
        _, fresh = await asyncio.to_thread(InferenceKey.issue, "fresh", [])
        await guard.authenticate(bearer_headers(fresh), "192.0.2.1")  # works at once
        assert table.generation == loaded + 1
        await redis.aclose()

    asyncio.run(scenario())


def bearer_headers(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {key}".encode())]
