"""Holding: a closed gate or a sleeping instance holds requests; the cap; timeouts; drops.

No worker runs here: the switch job the gateway asks for stays queued, which is what
lets these tests look at requests while they are held.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from redis import Redis

from console.gates import redis_keys
from console.gates.drain import close_gate
from console.models import Instance, InstanceState, Job, JobKind
from tests.gateway.conftest import (
    EngineFactory,
    GatewayFactory,
    completion_body,
    post_completion,
    register,
    settled_figures,
)
from tests.support.emulator import EmulatorProcess

PREFIX = settings.REDIS_PREFIX


def in_background(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# Served names of the tests that count figures (see ``asleep``).
CAPPED, DROPPED = "test/alpha-capped", "test/alpha-dropped"


def asleep(emulator: EmulatorProcess, name: str, model: str | None = None) -> Instance:
    """``model``: a served name of the test's own, for a test that counts the gateway's
    figures: an earlier test's counts for the same model can still be flushed by the
    session's gateway after this test cleaned Redis."""
    return register(emulator, name, state=InstanceState.SLEEPING, sleep_level=1,
                    served_model_name=model or f"test/{name}")  # fmt: skip


@pytest.fixture
def short_hold(gateway_factory: GatewayFactory) -> str:
    return gateway_factory(HOLD_SECONDS="3", MAX_HELD="2")


def test_request_for_a_sleeping_model_asks_for_one_switch_job(
    short_hold: str, inference_key: str, alpha: EmulatorProcess
) -> None:
    instance = asleep(alpha, "alpha")
    threads = [in_background(lambda: post_completion(short_hold, inference_key, "test/alpha"))
               for _ in range(2)]  # fmt: skip
    for thread, _ in threads:
        thread.join(timeout=15)
    jobs = Job.objects.filter(instance=instance)
    assert [(job.kind, job.state) for job in jobs] == [(JobKind.SWITCH, "queued")]


def test_a_hold_that_outlasts_the_timeout_is_503_with_retry_after(
    short_hold: str, inference_key: str, alpha: EmulatorProcess
) -> None:
    asleep(alpha, "alpha")
    started = time.monotonic()
    response = post_completion(short_hold, inference_key, "test/alpha")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "wake_timeout"
    assert time.monotonic() - started >= 2.9
    assert "/v1/completions" not in alpha.log_text(), "nothing reached the sleeping engine"


def test_held_requests_over_the_cap_get_503_with_retry_after(
    short_hold: str, inference_key: str, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    asleep(alpha, "alpha", CAPPED)
    held = [in_background(lambda: post_completion(short_hold, inference_key, CAPPED))
            for _ in range(2)]  # fmt: skip
    wait_until(lambda: clean_gateway_keys.zcard(redis_keys.held(PREFIX, CAPPED)) == 2)
    response = post_completion(short_hold, inference_key, CAPPED)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "too_many_held"
    assert "retry-after" in response.headers
    for thread, _ in held:
        thread.join(timeout=15)
    assert settled_figures(CAPPED, "rejected", 3)["rejected"] == 3


def test_a_client_that_disconnects_while_held_is_dropped(
    short_hold: str, inference_key: str, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    asleep(alpha, "alpha", DROPPED)
    parts = urlsplit(short_hold)
    body = httpx.Request("POST", "http://x", json=completion_body(DROPPED)).read()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {inference_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    held_key = redis_keys.held(PREFIX, DROPPED)
    with socket.create_connection((parts.hostname, parts.port or 80)) as sock:
        sock.sendall(head + body)
        wait_until(lambda: clean_gateway_keys.zcard(held_key) == 1)
    # Within the 3 s hold, or it left by timing out; the figure says which (a timeout is
    # counted as rejected, not dropped).
    wait_until(lambda: clean_gateway_keys.zcard(held_key) == 0, timeout=5)
    figures = settled_figures(DROPPED, "dropped", 1)
    assert (figures["dropped"], figures["rejected"]) == (1, 0)


def test_a_closed_gate_holds_requests_until_the_instance_is_awake_again(
    gateway: str, inference_key: str, alpha: EmulatorProcess, clean_gateway_keys: Redis
) -> None:
    instance = register(alpha, "alpha")
    close_gate(clean_gateway_keys, PREFIX, instance.pk, 60)
    thread, result = in_background(lambda: post_completion(gateway, inference_key, "test/alpha"))
    time.sleep(1.5)
    assert thread.is_alive(), "forwarded although a sleep was in flight"
    # What a finished sleep and wake leave behind: a later awake stretch.
    Instance.objects.filter(pk=instance.pk).update(state_changed_at=timezone.now())
    thread.join(timeout=5)
    response = result[0]
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200
    assert not clean_gateway_keys.exists(redis_keys.gate(PREFIX, instance.pk))


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        (InstanceState.ERROR, "model_failed",
         "The engine serving `test/alpha` has failed: engine process 4242 exited."),
        (InstanceState.STOPPED, "model_not_running", "The model `test/alpha` is not running."),
        (InstanceState.STOPPING, "model_not_running", "The model `test/alpha` is not running."),
    ],
)  # fmt: skip
def test_an_instance_that_cannot_serve_is_answered_at_once_not_held(
    short_hold: str, inference_key: str, alpha: EmulatorProcess,
    state: InstanceState, code: str, message: str,
) -> None:  # fmt: skip
    detail = "engine process 4242 exited\nsecond line not quoted"
    register(alpha, "alpha", state=state, state_detail=detail)
    response = post_completion(short_hold, inference_key, "test/alpha")
    assert response.status_code == 503  # at once: the code is not the hold's wake_timeout
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message
    assert not Job.objects.exists(), "no wake asked for"


def test_a_request_waits_for_the_sleeping_instance_not_the_failed_one(
    short_hold: str, inference_key: str, alpha: EmulatorProcess, engine_factory: EngineFactory
) -> None:
    with engine_factory("alpha") as second:
        register(alpha, "alpha-failed", served_model_name="test/alpha", state=InstanceState.ERROR)
        sleeping = Instance.objects.create(
            name="alpha-asleep", served_model_name="test/alpha", base_url=second.url,
            state=InstanceState.SLEEPING, sleep_level=1,
        )  # fmt: skip
        response = post_completion(short_hold, inference_key, "test/alpha")
    assert response.json()["error"]["code"] == "wake_timeout", "held: no worker runs here"
    assert [job.instance_id for job in Job.objects.all()] == [sleeping.pk]
