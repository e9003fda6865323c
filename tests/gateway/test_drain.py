"""The job side of the gate: a sleep waits for in-flight requests, or is refused."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from redis import Redis

from console.gates import drain, redis_keys
from console.gates.config import GatewayConfig
from console.gates.drain import DrainRefusedError, close_and_drain
from console.jobs.outcome import JobOutcome
from console.jobs.service import JobRefusedError
from console.jobs.sleepwake import sleep_instance
from console.models import Instance, InstanceState
from tests.support.emulator import free_port
from tests.support.redis_server import redis_server
from tests.support.redis_server import stop as redis_stop

PREFIX = settings.REDIS_PREFIX


@pytest.fixture
def instance(transactional_db: None) -> Instance:
    return Instance.objects.create(
        name="alpha", served_model_name="test/alpha", base_url="http://127.0.0.1:9",
        state=InstanceState.AWAKE,
    )  # fmt: skip


def mark_in_flight(redis: Redis, instance: Instance, member: str = "request-1") -> None:
    redis.zadd(redis_keys.inflight(PREFIX, instance.pk), {member: time.time() + 60})


def config(drain_seconds: float) -> GatewayConfig:
    return replace(GatewayConfig.from_settings(), drain_seconds=drain_seconds)


def test_drain_waits_for_the_request_in_flight(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    mark_in_flight(clean_gateway_keys, instance)
    done = threading.Timer(
        0.4, lambda: clean_gateway_keys.zrem(redis_keys.inflight(PREFIX, instance.pk), "request-1")
    )
    done.start()
    started = time.monotonic()
    close_and_drain(instance, config(5))
    assert time.monotonic() - started >= 0.35
    assert clean_gateway_keys.exists(redis_keys.gate(PREFIX, instance.pk)), (
        "stays closed for the sleep"
    )
    # ...but not for ever: a sleep abandoned before its move must not hold requests for good.
    assert 5 < clean_gateway_keys.ttl(redis_keys.gate(PREFIX, instance.pk)) <= 5 + 120


def test_drain_that_times_out_refuses_the_sleep_and_reopens_the_gate(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    mark_in_flight(clean_gateway_keys, instance)
    with pytest.raises(DrainRefusedError, match="1 gateway request"):
        close_and_drain(instance, config(0.3))
    assert not clean_gateway_keys.exists(redis_keys.gate(PREFIX, instance.pk))


def test_a_sleep_job_refused_by_the_drain_says_why_and_leaves_the_instance_awake(
    instance: Instance, clean_gateway_keys: Redis, settings: Any
) -> None:
    settings.CONSOLE_GATEWAY_DRAIN_SECONDS = 0.3
    mark_in_flight(clean_gateway_keys, instance)
    with pytest.raises(JobRefusedError) as refused:
        sleep_instance(instance, 2, JobOutcome())
    assert str(refused.value) == (
        "alpha: 1 gateway request(s) still in flight after 0.3 s; not put to sleep"
    )
    instance.refresh_from_db()
    assert instance.state == InstanceState.AWAKE


def test_an_expired_in_flight_mark_does_not_block_a_sleep(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    # What a web process that died mid-request leaves: a mark whose lease has run out.
    clean_gateway_keys.zadd(redis_keys.inflight(PREFIX, instance.pk), {"lost": time.time() - 1})
    close_and_drain(instance, config(0.3))


def test_a_sleep_is_refused_with_the_reason_when_redis_does_not_answer(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drain, "REDIS_PATIENCE_SECONDS", 1.0)
    nobody = replace(config(5), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(DrainRefusedError) as refused:
        close_and_drain(instance, nobody)
    assert time.monotonic() - started >= 1.0, "Redis is given a moment to come back"
    assert "alpha: the gateway's Redis does not answer (ConnectionError" in str(refused.value)
    assert str(refused.value).endswith("requests to it cannot be held, so it was not put to sleep")


def test_a_drain_rides_through_a_redis_restart(instance: Instance, tmp_path: Path) -> None:
    port = free_port()
    with redis_server(port, tmp_path / "first") as first:
        private = Redis(port=port)
        mark_in_flight(private, instance)
        result: list[BaseException | None] = []

        def sleep_side() -> None:
            try:
                close_and_drain(
                    instance, replace(config(10), redis_url=f"redis://127.0.0.1:{port}/0")
                )
                result.append(None)
            except BaseException as error:  # handed to the test thread
                result.append(error)

        thread = threading.Thread(target=sleep_side)
        thread.start()
        time.sleep(0.3)
        assert not result, "waits for the request in flight"
        redis_stop(first)
    # Down for half a second, then back (empty: in-memory, the request's mark is gone).
    time.sleep(0.5)
    with redis_server(port, tmp_path / "second"):
        thread.join(timeout=15)
        assert result == [None]
        assert Redis(port=port).exists(redis_keys.gate(PREFIX, instance.pk)), (
            "closed on the new one"
        )


def test_the_consoles_probe_is_not_sent_while_a_sleep_holds_the_gate(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    drain.close_gate(clean_gateway_keys, PREFIX, instance.pk, 60)
    with drain.probe_admitted(instance.pk, instance.state_changed_at) as admitted:
        assert not admitted
    assert drain.inflight_count(clean_gateway_keys, PREFIX, instance.pk) == 0


def test_the_consoles_probe_is_not_sent_beside_a_users_request(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    mark_in_flight(clean_gateway_keys, instance)
    with drain.probe_admitted(instance.pk, instance.state_changed_at) as admitted:
        assert not admitted
    assert not clean_gateway_keys.exists(redis_keys.last_request(PREFIX, instance.pk)), (
        "a probe is no activity for the idle policy"
    )


def test_a_sleep_waits_for_the_consoles_probe_in_flight(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    drained = threading.Event()

    def sleep_side() -> None:
        close_and_drain(instance, config(5))
        drained.set()

    with drain.probe_admitted(instance.pk, instance.state_changed_at) as admitted:
        assert admitted
        sleeper = threading.Thread(target=sleep_side)
        sleeper.start()
        assert not drained.wait(0.3), "the drain waits while the probe is in flight"
    assert drained.wait(5), "and goes on once it is answered"
    sleeper.join()


def test_a_gate_left_closed_by_the_last_sleep_does_not_stop_the_probe(
    instance: Instance, clean_gateway_keys: Redis
) -> None:
    drain.close_gate(clean_gateway_keys, PREFIX, instance.pk, 60)
    # Then the sleep and a wake happened: the instance is awake in a later stretch.
    Instance.objects.filter(pk=instance.pk).update(state_changed_at=timezone.now())
    instance.refresh_from_db()
    with drain.probe_admitted(instance.pk, instance.state_changed_at) as admitted:
        assert admitted
    assert not clean_gateway_keys.exists(redis_keys.gate(PREFIX, instance.pk))
