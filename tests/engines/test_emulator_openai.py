"""The OpenAI routes and ``/metrics`` of the emulator (docs/vllm-behaviour.md §2.10 and §7)."""

from __future__ import annotations

import pytest

from tests.conftest import EmulatorFactory
from tests.engines.conftest import (
    FAST,
    SharedEmulator,
    complete,
    get,
    metric,
    post,
    sse_payloads,
)

SLEEP_STATE = "vllm:engine_sleep_state"


def test_models_lists_one_card_per_served_name(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, "--served-model-name", "a", "b") as emu:
        cards = get(emu, "/v1/models").json()["data"]
        assert [card["id"] for card in cards] == ["a", "b"]
        assert {card["root"] for card in cards} == {"facebook/opt-125m"}


def test_answers_are_deterministic_and_cut_by_max_tokens(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    first, second = complete(emu, "Why?", 3).json(), complete(emu, "Why?", 3).json()
    assert first["choices"][0]["text"] == second["choices"][0]["text"]
    assert first["choices"][0]["finish_reason"] == "length"
    assert first["usage"]["completion_tokens"] == 3


def test_unknown_model_is_vllm_404(shared_emulator: SharedEmulator) -> None:
    answer = post(shared_emulator(), "/v1/chat/completions", json={"model": "x", "messages": []})
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "message": "The model `x` does not exist.", "type": "NotFoundError",
        "param": None, "code": 404,
    }  # fmt: skip


def test_chat_stream_has_vllm_chunks_and_done(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    request = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    whole = post(emu, "/v1/chat/completions", json=request).json()
    streamed = post(emu, "/v1/chat/completions", json=request | {"stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    *chunks, done = sse_payloads(streamed.text)
    assert done == "[DONE]"
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]


def test_latency_histograms_count_the_requests(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    names = ("vllm:e2e_request_latency_seconds_count", "vllm:time_to_first_token_seconds_count")
    before = [metric(emu, name) for name in (*names, "vllm:generation_tokens_total")]
    for _ in range(3):
        complete(emu, max_tokens=2)
    after = [metric(emu, name) for name in (*names, "vllm:generation_tokens_total")]
    assert [b - a for a, b in zip(before, after, strict=True)] == [3, 3, 6]


def test_sleep_state_metric_is_absent_before_0_11_1(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    assert SLEEP_STATE not in get(emu, "/metrics").text
    assert metric(emu, "vllm:kv_cache_usage_perc") == 0.0


@pytest.mark.parametrize(("level", "state"), [(1, "weights_offloaded"), (2, "discard_all")])
def test_sleep_state_metric_follows_the_level(
    emulator_factory: EmulatorFactory, level: int, state: str
) -> None:
    with emulator_factory(*FAST, version="0.11.1") as emu:
        post(emu, f"/sleep?level={level}")
        assert metric(emu, SLEEP_STATE, sleep_state=state) == 1
        assert metric(emu, SLEEP_STATE, sleep_state="awake") == 0


def test_scrapes_do_not_change_state(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.11.1") as emu:
        post(emu, "/sleep?level=1")
        first = get(emu, "/metrics").text
        assert get(emu, "/health").status_code == 200
        assert get(emu, "/metrics").text == first
        assert get(emu, "/is_sleeping").json() == {"is_sleeping": True}


def test_metrics_content_type_is_prometheus_0_0_4(shared_emulator: SharedEmulator) -> None:
    answer = get(shared_emulator(), "/metrics")
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_version_reports_the_emulated_release(shared_emulator: SharedEmulator) -> None:
    assert get(shared_emulator("0.33.0"), "/version").json() == {"version": "0.33.0"}


def test_sleep_operations_are_timed_from_0_32(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu:
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up")
        histogram = "vllm:sleep_mode_operation_duration_seconds_count"
        assert metric(emu, histogram, operation="sleep") == 1
        assert metric(emu, histogram, operation="wake") == 1
        assert metric(emu, "vllm:sleep_mode_operations_in_flight", operation="sleep") == 0
