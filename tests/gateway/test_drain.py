"""The job side of the gate: a sleep waits for in-flight requests, or is refused."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from django.conf import settings
from redis import Redis

from console.gateway import keys
from console.gateway.config import GatewayConfig
from console.gateway.drain import close_and_drain
from console.jobs.service import JobRefusedError
from console.models import Instance, InstanceState

PREFIX = settings.REDIS_PREFIX


@pytest.fixture
def instance(transactional_db: None) -> Instance:
    return Instance.objects.create(
        name="alpha", served_model_name="test/alpha", base_url="http://127.0.0.1:9",
        state=InstanceState.AWAKE,
    )  # fmt: skip


def mark_in_flight(redis: Redis, instance: Instance, member: str = "request-1") -> None:
    redis.zadd(keys.inflight(PREFIX, instance.pk), {member: time.time() + 60})


def config(drain_seconds: float) -> GatewayConfig:
    return replace(GatewayConfig.from_settings(), drain_seconds=drain_seconds)


def test_drain_waits_for_the_request_in_flight(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    mark_in_flight(clean_gateway_keys, instance)
    done = threading.Timer(
        0.4, lambda: clean_gateway_keys.zrem(keys.inflight(PREFIX, instance.pk), "request-1")
    )
    done.start()
    started = time.monotonic()
    close_and_drain(instance, config(5))
    assert time.monotonic() - started >= 0.35
    assert clean_gateway_keys.exists(keys.gate(PREFIX, instance.pk)), "stays closed for the sleep"


def test_drain_that_times_out_refuses_the_sleep_and_reopens_the_gate(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    mark_in_flight(clean_gateway_keys, instance)
    with pytest.raises(JobRefusedError, match="1 gateway request"):
        close_and_drain(instance, config(0.3))
    assert not clean_gateway_keys.exists(keys.gate(PREFIX, instance.pk))


def test_an_expired_in_flight_mark_does_not_block_a_sleep(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    # What a web process that died mid-request leaves: a mark whose lease has run out.
    clean_gateway_keys.zadd(keys.inflight(PREFIX, instance.pk), {"lost": time.time() - 1})
    close_and_drain(instance, config(0.3))
