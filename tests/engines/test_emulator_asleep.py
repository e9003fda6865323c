"""A generation request that reaches a sleeping engine: crash, hang or queue
(docs/vllm-behaviour.md §4)."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, complete, get, post, sse_payloads
from tests.support.emulator import EmulatorProcess

DEAD_0_11 = "EngineCore encountered an issue. See stack trace (above) for the root cause."


def _pending(pool: ThreadPoolExecutor, emu: EmulatorProcess) -> Future[httpx.Response]:
    future = pool.submit(complete, emu)
    time.sleep(0.3)
    return future


def test_0_11_request_while_asleep_crashes_the_server(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        answer = complete(emu)
        assert answer.status_code == 500
        assert answer.json() == {
            "error": {
                "message": DEAD_0_11, "type": "Internal Server Error", "param": None, "code": 500,
            }
        }  # fmt: skip
        assert emu.process.wait(timeout=15) != 0
        log = emu.log_text()
        assert "CUDA error: an illegal memory access was encountered" in log
        assert f"EngineDeadError: {DEAD_0_11}" in log


def test_0_11_stream_while_asleep_ends_with_an_error_chunk(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        body = {"prompt": "Hi", "max_tokens": 4, "stream": True}
        answer = post(emu, "/v1/completions", json=body)
        assert answer.status_code == 200
        error, done = sse_payloads(answer.text)
        assert error["error"]["code"] == 400
        assert error["error"]["type"] == "BadRequestError"
        assert done == "[DONE]"


def test_keep_alive_on_engine_death_answers_503_health(emulator_factory: EmulatorFactory) -> None:
    env = {"VLLM_KEEP_ALIVE_ON_ENGINE_DEATH": "1"}
    with emulator_factory(*FAST, env=env) as emu:
        post(emu, "/sleep?level=1")
        complete(emu)
        assert get(emu, "/health").status_code == 503
        assert complete(emu).status_code == 500
        assert emu.alive()


def test_0_17_request_while_asleep_hangs_until_wake(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu, ThreadPoolExecutor(1) as pool:
        post(emu, "/sleep?level=1")
        future = _pending(pool, emu)
        assert not future.done()
        post(emu, "/wake_up")
        assert future.result(timeout=15).status_code == 200


def test_0_17_weights_only_wake_crashes_the_queued_request(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu, ThreadPoolExecutor(1) as pool:
        post(emu, "/sleep?level=1")
        future = _pending(pool, emu)
        post(emu, "/wake_up", params={"tags": ["weights"]})
        assert future.result(timeout=15).status_code == 500
        assert "illegal memory access" in emu.log_text()


def test_0_33_request_queues_until_every_tag_is_awake(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu, ThreadPoolExecutor(1) as pool:
        post(emu, "/sleep?level=1")
        future = _pending(pool, emu)
        post(emu, "/wake_up", params={"tags": ["weights"]})
        time.sleep(0.3)
        assert not future.done()
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        assert future.result(timeout=15).status_code == 200


def test_0_33_pause_rejects_new_requests_with_503(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu:
        assert post(emu, "/pause").json() == {"status": "paused"}
        refused = complete(emu)
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "ServiceUnavailableError"
        post(emu, "/resume")
        assert complete(emu).status_code == 200


# One token every 50 ms: a request is still running when the sleep arrives.
SLOW_TOKENS = (*FAST[:-1], "0.05", "--tokens-per-second", "1")


def test_0_11_sleep_with_a_request_in_flight_crashes_it(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*SLOW_TOKENS) as emu, ThreadPoolExecutor(1) as pool:
        future = pool.submit(complete, emu, "Hello", 30)
        time.sleep(0.2)
        post(emu, "/sleep?level=1")
        assert future.result(timeout=15).status_code == 500
        assert "Failed to reset prefix cache because some blocks (1) are not freed yet" in (
            emu.log_text()
        )


def test_0_17_sleep_aborts_the_requests_in_flight(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*SLOW_TOKENS, version="0.17.0") as emu, ThreadPoolExecutor(1) as pool:
        future = pool.submit(complete, emu, "Hello", 30)
        time.sleep(0.2)
        post(emu, "/sleep?level=1")
        answer = future.result(timeout=15)
        assert answer.json()["choices"][0]["finish_reason"] == "abort"
        assert emu.alive()


def test_0_17_pause_makes_is_sleeping_true(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu:
        post(emu, "/pause")
        assert get(emu, "/is_sleeping").json() == {"is_sleeping": True}
        post(emu, "/resume")
        assert get(emu, "/is_sleeping").json() == {"is_sleeping": False}
