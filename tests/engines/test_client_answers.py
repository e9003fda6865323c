"""How the client reads vLLM's answers: status codes and bodies as typed errors and values."""

from __future__ import annotations

import pickle

import httpx
import pytest

from engines.client.answers import (
    check_reset_answer,
    check_sleep_answer,
    check_wake_answer,
    parse_models,
    parse_rpc_results,
    raise_for_status,
    transport_error,
)
from engines.client.calls import (
    Call,
    collective_rpc_call,
    completion_call,
    is_sleeping_call,
    models_call,
    reset_prefix_cache_call,
    sleep_call,
    wake_call,
)
from engines.errors import (
    DevModeOff,
    EngineBadRequest,
    EngineBusy,
    EngineDead,
    EngineError,
    EngineServerError,
    EngineTimeout,
    EngineUnauthorized,
    EngineUnreachable,
    SleepModeDisabled,
    WakeOutOfMemory,
)
from engines.versions import features

URL = "http://gpu-7:8001"
V011 = features("0.11.0")
V033 = features("0.33.0")
WAKE = wake_call(V011, None)
SLEEP = sleep_call(V011, 1, None)
NOT_FOUND = httpx.Response(404, json={"detail": "Not Found"})
# A real 0.11.0 server's answer to a request that reached a sleeping engine
# (docs/vllm-behaviour.md §4).
ENGINE_DEAD_0_11 = {
    "error": {
        "message": "EngineCore encountered an issue. See stack trace (above) for the root cause.",
        "type": "Internal Server Error",
        "param": None,
        "code": 500,
    }
}


def _raised(call: Call, response: httpx.Response) -> EngineError:
    with pytest.raises(EngineError) as caught:
        raise_for_status(call, URL, response)
    return caught.value


def test_a_2xx_answer_raises_nothing() -> None:
    raise_for_status(SLEEP, URL, httpx.Response(200))


def test_404_on_a_dev_endpoint_means_dev_mode_is_off() -> None:
    error = _raised(is_sleeping_call(V011), NOT_FOUND)

    assert type(error) is DevModeOff
    assert not error.retryable


def test_404_on_an_openai_endpoint_is_a_bad_request() -> None:
    assert type(_raised(models_call(), NOT_FOUND)) is EngineBadRequest


def test_errors_name_the_engine_the_operation_and_the_status() -> None:
    assert str(_raised(SLEEP, NOT_FOUND)) == f"sleep {URL}: Not Found (HTTP 404)"


def test_vllm_validation_error_is_a_bad_request_with_vllm_message() -> None:
    body = {"error": {"message": "1 validation error", "type": "Bad Request", "code": 400}}
    error = _raised(sleep_call(V033, 1, None), httpx.Response(400, json=body))

    assert type(error) is EngineBadRequest
    assert error.message == "1 validation error"


def test_401_means_a_missing_or_wrong_api_key() -> None:
    response = httpx.Response(401, json={"error": "Unauthorized"})

    assert type(_raised(models_call(), response)) is EngineUnauthorized


def test_cuda_out_of_memory_on_wake_is_wake_out_of_memory() -> None:
    text = "RuntimeError: CUDA Error: out of memory at /workspace/csrc/cumem_allocator.cpp:62"
    error = _raised(WAKE, httpx.Response(500, text=text))

    assert type(error) is WakeOutOfMemory
    assert "cumem_allocator.cpp" in error.message


def test_out_of_memory_outside_a_wake_stays_a_server_error() -> None:
    response = httpx.Response(500, text="CUDA Error: out of memory")

    assert type(_raised(SLEEP, response)) is EngineServerError


def test_bare_500_on_wake_is_a_server_error() -> None:
    assert type(_raised(WAKE, httpx.Response(500, text="Internal Server Error"))) is (
        EngineServerError
    )


def test_engine_core_died_body_is_engine_dead() -> None:
    response = httpx.Response(500, json=ENGINE_DEAD_0_11)

    assert type(_raised(completion_call("m"), response)) is EngineDead


def test_health_503_is_engine_dead_and_not_retryable() -> None:
    error = _raised(completion_call("m"), httpx.Response(503))

    assert type(error) is EngineDead
    assert not error.retryable


def test_paused_engine_503_is_busy_and_retryable() -> None:
    body = {"error": {"message": "Generation is paused. Please retry after it resumes."}}
    error = _raised(completion_call("m"), httpx.Response(503, json=body))

    assert type(error) is EngineBusy
    assert error.retryable


def test_sleep_mode_not_enabled_assertion_is_sleep_mode_disabled() -> None:
    response = httpx.Response(500, text="AssertionError: Sleep mode is not enabled in the model")

    assert type(_raised(SLEEP, response)) is SleepModeDisabled


def test_bad_gateway_from_a_proxy_means_unreachable() -> None:
    assert type(_raised(SLEEP, httpx.Response(502))) is EngineUnreachable


def test_connection_refused_is_unreachable_and_retryable() -> None:
    error = transport_error(SLEEP, URL, httpx.ConnectError("[Errno 111] Connection refused"))

    assert type(error) is EngineUnreachable
    assert error.retryable
    assert "Connection refused" in str(error)


def test_read_timeout_is_engine_timeout_and_retryable() -> None:
    error = transport_error(SLEEP, URL, httpx.ReadTimeout("timed out"))

    assert type(error) is EngineTimeout
    assert error.retryable


def test_a_bad_url_scheme_is_unreachable_but_not_retryable() -> None:
    error = transport_error(SLEEP, URL, httpx.UnsupportedProtocol("ftp"))

    assert type(error) is EngineUnreachable
    assert not error.retryable


def test_empty_sleep_answer_is_success_up_to_0_31() -> None:
    check_sleep_answer(SLEEP, URL, features("0.31.0"), 1, httpx.Response(200))


def test_json_sleep_answer_is_required_from_0_32() -> None:
    call = sleep_call(V033, 2, None)
    check_sleep_answer(
        call, URL, V033, 2, httpx.Response(200, json={"status": "sleeping", "level": 2})
    )

    with pytest.raises(EngineServerError, match="not JSON"):
        check_sleep_answer(call, URL, V033, 2, httpx.Response(200))


def test_json_sleep_answer_at_another_level_is_an_error() -> None:
    response = httpx.Response(200, json={"status": "sleeping", "level": 1})

    with pytest.raises(EngineServerError, match="level 2"):
        check_sleep_answer(sleep_call(V033, 2, None), URL, V033, 2, response)


def test_partial_wake_answer_is_success_from_0_32() -> None:
    response = httpx.Response(200, json={"status": "sleeping", "tags": ["weights"]})

    check_wake_answer(wake_call(V033, ["weights"]), URL, V033, response)


def test_prefix_cache_not_reset_from_0_26_is_busy() -> None:
    response = httpx.Response(200, json={"success": False})

    with pytest.raises(EngineBusy, match="still hold blocks"):
        check_reset_answer(reset_prefix_cache_call(V033), URL, V033, response)


def test_collective_rpc_empty_answer_is_none() -> None:
    call = collective_rpc_call(V011, "reload_weights")

    assert parse_rpc_results(call, URL, httpx.Response(200)) is None


def test_collective_rpc_returns_one_result_per_worker() -> None:
    response = httpx.Response(200, json={"results": [None, None]})

    assert parse_rpc_results(collective_rpc_call(V011, "x"), URL, response) == [None, None]


def test_models_lists_served_names_and_leaves_lora_adapters_out() -> None:
    cards = [
        {"id": "base", "parent": None},
        {"id": "alias", "parent": None},
        {"id": "sql-lora", "parent": "base"},
    ]
    response = httpx.Response(200, json={"object": "list", "data": cards})

    assert parse_models(models_call(), URL, response) == ["base", "alias"]


def test_errors_survive_pickling_with_their_context() -> None:
    error = transport_error(SLEEP, URL, httpx.UnsupportedProtocol("ftp"))
    copy = pickle.loads(pickle.dumps(error))

    assert (type(copy), str(copy), copy.retryable) == (EngineUnreachable, str(error), False)
