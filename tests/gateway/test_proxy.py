"""Routing by model, streaming passthrough, the engine's own key, errors in OpenAI's shape."""

from __future__ import annotations

import time

import httpx
from redis import Redis

from console.models import Instance, InstanceState
from tests.gateway.conftest import (
    EngineFactory,
    bearer,
    completion_body,
    post_completion,
    register,
    settled_figures,
)
from tests.support.emulator import EmulatorProcess, free_port


def test_requests_go_to_the_instance_serving_their_model(
    gateway: str, inference_key: str, alpha: EmulatorProcess, engine_factory: EngineFactory
) -> None:
    register(alpha, "alpha")
    with engine_factory("beta") as beta:
        register(beta, "beta")
        for model in ("test/alpha", "test/beta", "test/alpha"):
            response = post_completion(gateway, inference_key, model)
            assert response.status_code == 200, response.text
            assert response.json()["model"] == model


def test_unknown_model_is_404_in_openai_shape(gateway: str, inference_key: str) -> None:
    response = post_completion(gateway, inference_key, "test/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert "test/nobody" in response.json()["error"]["message"]


def test_request_without_a_model_is_400(gateway: str, inference_key: str) -> None:
    response = httpx.post(f"{gateway}/v1/completions", json={"prompt": "x"},
                          headers=bearer(inference_key))  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_streamed_chunks_arrive_before_the_stream_ends(
    gateway: str, inference_key: str, engine_factory: EngineFactory
) -> None:
    # 10 tokens at 20 per second in real time: half a second of stream.
    with engine_factory("slow", "--time-scale", "1", "--tokens-per-second", "20") as slow:
        register(slow, "slow")
        arrivals: list[float] = []
        body = completion_body("test/slow", stream=True, max_tokens=10)
        with httpx.stream("POST", f"{gateway}/v1/completions", json=body,
                          headers=bearer(inference_key), timeout=30) as response:  # fmt: skip
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.monotonic())
    assert len(arrivals) >= 10
    assert arrivals[-1] - arrivals[0] > 0.3, "chunks were buffered until the end"


def test_the_engine_gets_its_own_key_not_the_clients(
    gateway: str, inference_key: str, engine_factory: EngineFactory
) -> None:
    with engine_factory("keyed", "--api-key", "engine-secret") as keyed:
        register(keyed, "keyed", api_key="engine-secret")
        assert post_completion(gateway, inference_key, "test/keyed").status_code == 200
        direct = httpx.post(f"{keyed.url}/v1/completions", json=completion_body("test/keyed"),
                            headers=bearer(inference_key))  # fmt: skip
        assert direct.status_code == 401, "the client's key alone must not open the engine"


def test_unreachable_engine_is_502_and_counted_as_an_error(
    gateway: str, inference_key: str
) -> None:
    Instance.objects.create(name="gone", served_model_name="test/gone",
                            base_url=f"http://127.0.0.1:{free_port()}",
                            state=InstanceState.AWAKE)  # fmt: skip
    response = post_completion(gateway, inference_key, "test/gone")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "engine_unreachable"
    assert settled_figures("test/gone", "errors", 1)["errors"] == 1


def test_answered_requests_are_counted_per_model(
    gateway: str, inference_key: str, engine_factory: EngineFactory, clean_gateway_keys: Redis
) -> None:
    # A served name no other test uses: the session's gateway flushes its figures about once
    # a second, so another test's last request for test/alpha could land after the clean.
    with engine_factory("counted") as counted:
        register(counted, "counted")
        for _ in range(3):
            assert post_completion(gateway, inference_key, "test/counted").status_code == 200
    figures = settled_figures("test/counted", "requests", 3)
    assert (figures["requests"], figures["errors"], figures["held"]) == (3, 0, 0)
