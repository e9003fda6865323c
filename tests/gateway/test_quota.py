"""Per-key limits through the real gateway (uvicorn) and a real emulator: 429s, leases, and
the usage that reaches the key's hourly row.

No worker runs here: a request for a sleeping instance stays held, which is how a request
is kept in flight while another one is judged.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from redis import Redis

from console.gateway.quota import quota_key
from console.gateway.usage import pending_key
from console.gateway.usage_store import drain, parse
from console.models.gateway import InferenceKey, KeyUsage
from tests.gateway.conftest import (
    GatewayFactory,
    bearer,
    completion_body,
    post_completion,
    register,
)
from tests.gateway.test_hold import asleep, in_background, wait_until
from tests.support.emulator import EmulatorProcess

PREFIX = settings.REDIS_PREFIX
KeyFactory = Callable[..., tuple[InferenceKey, str]]


@pytest.fixture
def limited_key(transactional_db: None) -> KeyFactory:
    """``limited_key(requests_per_minute=3)``: a new key's row and the key."""
    return lambda **limits: InferenceKey.issue("limited", [], **limits)


def window_total(redis: Redis, row: InferenceKey, what: str) -> int:
    return sum(int(n) for n in redis.hgetall(quota_key(PREFIX, row.pk, what)).values())


def in_flight(redis: Redis, row: InferenceKey) -> int:
    return int(redis.zcard(quota_key(PREFIX, row.pk, "inflight")))


def assert_rate_limited(response: httpx.Response, limit: str, error_type: str) -> None:
    assert response.status_code == 429
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 60
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        error_type, "rate_limit_exceeded", limit,
    )  # fmt: skip
    assert f"retry in {retry} s" in error["message"]


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line for line in response.text.split("\n\n") if line.startswith("data: {")]
    return [json.loads(line[len("data: ") :]) for line in lines]


def stream(gateway: str, key: str, model: str, **extra: object) -> httpx.Response:
    body = completion_body(model, stream=True, max_tokens=8) | extra
    return httpx.post(f"{gateway}/v1/completions", json=body, headers=bearer(key), timeout=30)


def test_a_key_limited_to_3_requests_per_minute_gets_429_with_retry_after_on_the_4th(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    _, key = limited_key(requests_per_minute=3)
    started = time.time()
    statuses = [post_completion(gateway, key, "test/alpha").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = post_completion(gateway, key, "test/alpha")
    assert_rate_limited(refused, "requests_per_minute", "requests")
    # The first request leaves the window 60 s after it came, not sooner.
    assert int(refused.headers["retry-after"]) >= 60 - (time.time() - started) - 1


def test_another_keys_limit_does_not_refuse_this_key(
    gateway: str, limited_key: KeyFactory, inference_key: str, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    _, key = limited_key(requests_per_minute=1)
    assert post_completion(gateway, key, "test/alpha").status_code == 200
    assert post_completion(gateway, key, "test/alpha").status_code == 429
    assert post_completion(gateway, inference_key, "test/alpha").status_code == 200


def test_a_raised_limit_applies_at_once(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    row, key = limited_key(requests_per_minute=1)
    assert post_completion(gateway, key, "test/alpha").status_code == 200
    assert post_completion(gateway, key, "test/alpha").status_code == 429
    row.requests_per_minute = 5
    row.save(update_fields=["requests_per_minute"])  # what PATCH /api/inference-keys/ saves
    assert post_completion(gateway, key, "test/alpha").status_code == 200


def test_the_request_limit_is_shared_by_two_gateway_processes(
    gateway_factory: GatewayFactory, limited_key: KeyFactory, alpha: EmulatorProcess
) -> None:
    first, second = gateway_factory(), gateway_factory(HOLD_SECONDS="60")
    assert first != second
    register(alpha, "alpha")
    _, key = limited_key(requests_per_minute=3)
    statuses = [post_completion(gw, key, "test/alpha").status_code
                for gw in (first, second, first, second)]  # fmt: skip
    assert statuses == [200, 200, 200, 429]


def test_a_streams_usage_counts_against_tokens_per_minute(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    register(alpha, "alpha")
    row, key = limited_key(tokens_per_minute=10)
    answer = stream(gateway, key, "test/alpha", stream_options={"include_usage": True})
    usage = sse_events(answer)[-1]["usage"]
    assert usage["total_tokens"] >= 10
    wait_until(lambda: window_total(clean_gateway_keys, row, "tokens") > 0)
    assert window_total(clean_gateway_keys, row, "tokens") == usage["total_tokens"]
    assert_rate_limited(post_completion(gateway, key, "test/alpha"), "tokens_per_minute",
                        "tokens")  # fmt: skip


def test_a_stream_that_did_not_ask_for_usage_is_counted_without_seeing_it(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    register(alpha, "alpha")
    row, key = limited_key(tokens_per_minute=1000)
    answer = stream(gateway, key, "test/alpha")
    events = sse_events(answer)
    assert events
    assert all(event["choices"] and "usage" not in event for event in events)
    assert answer.text.endswith("data: [DONE]\n\n")
    wait_until(lambda: window_total(clean_gateway_keys, row, "tokens") > 8)


def test_a_non_streamed_answers_usage_counts_against_tokens_per_minute(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    register(alpha, "alpha")
    row, key = limited_key(tokens_per_minute=1000)
    answer = post_completion(gateway, key, "test/alpha")
    total = answer.json()["usage"]["total_tokens"]
    wait_until(lambda: window_total(clean_gateway_keys, row, "tokens") == total)


@contextmanager
def held_connection(gateway: str, key: str, model: str) -> Iterator[None]:
    """A raw connection that sends a request, then closes without reading the answer."""
    parts = urlsplit(gateway)
    body = httpx.Request("POST", "http://x", json=completion_body(model)).read()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.sendall(head + body)
        yield


@pytest.fixture
def held_gateway(gateway_factory: GatewayFactory) -> str:
    return gateway_factory(HOLD_SECONDS="3", MAX_HELD="2")


def test_max_concurrent_refuses_a_request_while_the_keys_others_are_in_flight(
    held_gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    asleep(alpha, "alpha")
    row, key = limited_key(max_concurrent=1)
    thread, result = in_background(lambda: post_completion(held_gateway, key, "test/alpha"))
    wait_until(lambda: in_flight(clean_gateway_keys, row) == 1)
    assert_rate_limited(post_completion(held_gateway, key, "test/alpha"), "max_concurrent",
                        "requests")  # fmt: skip
    thread.join(timeout=15)
    assert [r.status_code for r in result] == [503]  # type: ignore[attr-defined]


def test_a_request_that_ends_in_an_error_gives_its_place_back(
    held_gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    asleep(alpha, "alpha")
    row, key = limited_key(max_concurrent=1)
    assert post_completion(held_gateway, key, "test/alpha").status_code == 503  # hold timeout
    assert in_flight(clean_gateway_keys, row) == 0


def test_a_client_that_disconnects_gives_its_place_back(
    held_gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    asleep(alpha, "alpha")
    row, key = limited_key(max_concurrent=1)
    with held_connection(held_gateway, key, "test/alpha"):
        wait_until(lambda: in_flight(clean_gateway_keys, row) == 1)
    wait_until(lambda: in_flight(clean_gateway_keys, row) == 0, timeout=2)


def test_a_key_without_limits_leaves_no_quota_keys_in_redis(
    gateway: str, inference_key: str, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    register(alpha, "alpha")
    assert post_completion(gateway, inference_key, "test/alpha").status_code == 200
    assert not list(clean_gateway_keys.scan_iter(f"{PREFIX}gw:quota:*"))


def pending(redis: Redis, counter: str, key_id: int) -> float:
    """The key's counts not yet stored (the session's gateway may still flush an earlier
    test's counts, for other keys, after this test cleaned Redis)."""
    counts = parse(redis.hgetall(pending_key(PREFIX)))
    return sum(values.get(counter, 0.0) for (_, key, _), values in counts.items() if key == key_id)


def test_a_keys_answers_tokens_and_429s_reach_its_hourly_row(
    gateway: str, limited_key: KeyFactory, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    register(alpha, "alpha")
    row, key = limited_key(requests_per_minute=2)
    whole = post_completion(gateway, key, "test/alpha").json()["usage"]
    asked = {"stream_options": {"include_usage": True}}
    streamed = sse_events(stream(gateway, key, "test/alpha", **asked))[-1]["usage"]
    assert post_completion(gateway, key, "test/alpha").status_code == 429
    wait_until(lambda: pending(clean_gateway_keys, "requests", row.pk) == 2
               and pending(clean_gateway_keys, "rejected", row.pk) == 1)  # fmt: skip
    drain()
    usage = KeyUsage.objects.get(key=row)
    assert (usage.model, usage.requests, usage.rejected) == ("test/alpha", 2, 1)
    assert usage.prompt_tokens == whole["prompt_tokens"] + streamed["prompt_tokens"]
    assert usage.completion_tokens == whole["completion_tokens"] + streamed["completion_tokens"]
