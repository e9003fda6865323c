"""The blocking client against the emulator, a real vLLM-compatible server on a real port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engines.client import EngineClient, Timeouts
from engines.errors import (
    DevModeOff,
    EngineAsleep,
    EngineDead,
    EngineTimeout,
    EngineUnauthorized,
    EngineUnreachable,
    UnsupportedByVersion,
    WakeOutOfMemory,
)
from engines.metrics import SleepState
from engines.simgpu import GIB, SimGpu, SimGpuDir
from engines.versions import v
from tests.conftest import EmulatorFactory
from tests.engines.conftest import SharedEmulator
from tests.support.emulator import EmulatorProcess, free_port, run_emulator

FAST = (
    "--enable-sleep-mode",
    "--weights-gib", "1",
    "--kv-cache-gib", "1",
    "--startup-seconds", "0",
    "--time-scale", "0.05",
    "--tokens-per-second", "5000",
)  # fmt: skip
PROMPT = "The capital of France is"


def complete(emu: EmulatorProcess, model: str) -> str:
    """A greedy 6-token completion: the emulator derives the text from prompt and weights."""
    body = {"model": model, "prompt": PROMPT, "max_tokens": 6, "temperature": 0}
    response = httpx.post(f"{emu.url}/v1/completions", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["choices"][0]["text"])


@pytest.fixture(scope="module")
def emu_0_11(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A 0.11.0 server shared by the tests that leave it awake as they found it."""
    with run_emulator(tmp_path_factory.mktemp("emu011"), *FAST, version="0.11.0") as emu:
        yield emu


@pytest.fixture
def client_0_11(emu_0_11: EmulatorProcess) -> Iterator[EngineClient]:
    with EngineClient(emu_0_11.url) as client:
        yield client


def test_version_is_read_from_the_server(client_0_11: EngineClient) -> None:
    assert client_0_11.version() == v("0.11.0")


def test_a_known_version_is_not_asked_again(emu_0_11: EmulatorProcess) -> None:
    logged_before = len(emu_0_11.log_text())
    with EngineClient(emu_0_11.url, version=v("0.11.0")) as client:
        client.is_sleeping()
        client.is_sleeping()

    logged = emu_0_11.log_text()[logged_before:]
    assert logged.count("GET /is_sleeping") == 2
    assert "GET /version" not in logged


def test_health_is_true_on_a_ready_server(client_0_11: EngineClient) -> None:
    assert client_0_11.health() is True


def test_models_lists_the_served_model(client_0_11: EngineClient) -> None:
    assert client_0_11.models() == ["facebook/opt-125m"]


def test_metrics_of_an_idle_awake_server(client_0_11: EngineClient) -> None:
    metrics = client_0_11.metrics()

    assert (metrics.running, metrics.waiting) == (0, 0)
    assert metrics.kv_cache_usage is not None
    assert metrics.sleep_state is None  # the gauge exists from 0.11.1


def test_warmup_returns_the_seconds_of_one_completion(client_0_11: EngineClient) -> None:
    seconds = client_0_11.warmup()

    assert 0.0 < seconds < 5.0


def test_ttft_delta_between_two_scrapes_counts_the_request_in_between(
    client_0_11: EngineClient,
) -> None:
    client_0_11.warmup()  # so the histogram exists whatever was served before
    earlier = client_0_11.metrics().ttft
    client_0_11.warmup()
    later = client_0_11.metrics().ttft

    assert earlier is not None
    assert later is not None
    delta = later.minus(earlier)
    assert delta.count == 1
    assert delta.p50 is not None


def test_collective_rpc_returns_one_result_per_worker(client_0_11: EngineClient) -> None:
    assert client_0_11.collective_rpc("reload_weights") == [None]


def test_level_1_sleep_then_wake(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.11.0") as emu, EngineClient(emu.url) as client:
        client.sleep(1)
        asleep = client.is_sleeping()
        client.wake()

        assert (asleep, client.is_sleeping()) == (True, False)


def test_health_stays_true_while_asleep(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.11.0") as emu, EngineClient(emu.url) as client:
        client.sleep(1)

        assert client.health() is True


def test_warmup_refuses_a_sleeping_engine_and_leaves_it_alive(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.11.0") as emu, EngineClient(emu.url) as client:
        client.sleep(1)
        with pytest.raises(EngineAsleep):
            client.warmup()

        assert emu.alive()


def test_health_of_an_engine_killed_by_a_request_while_asleep_is_engine_dead(
    emulator_factory: EmulatorFactory,
) -> None:
    keep_alive = {"VLLM_KEEP_ALIVE_ON_ENGINE_DEATH": "1"}  # else the 0.11 server exits
    with (
        emulator_factory(*FAST, version="0.11.0", env=keep_alive) as emu,
        EngineClient(emu.url) as client,
    ):
        client.sleep(1)
        body = {"model": "facebook/opt-125m", "prompt": PROMPT, "max_tokens": 1}
        crash = httpx.post(f"{emu.url}/v1/completions", json=body, timeout=10)
        with pytest.raises(EngineDead) as caught:
            client.health()

    assert crash.status_code == 500
    assert not caught.value.retryable


def test_level_is_sent_in_the_query_string(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu, EngineClient(emu.url) as client:
        client.sleep(2)

        assert client.metrics().sleep_state is SleepState.DISCARD_ALL
        assert "POST /sleep?level=2 HTTP/1.1" in emu.log_text()


def test_partial_wake_keeps_the_engine_asleep_until_every_tag_is_awake(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.8.5") as emu, EngineClient(emu.url) as client:
        client.sleep(1)
        client.wake(["weights"])
        after_weights = client.is_sleeping()
        client.wake(["kv_cache"])

        assert (after_weights, client.is_sleeping()) == (True, False)


def test_level_2_wake_sequence_restores_the_same_output(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.11.0") as emu, EngineClient(emu.url) as client:
        before = complete(emu, "facebook/opt-125m")
        client.sleep(2)
        client.wake_level2()

        assert complete(emu, "facebook/opt-125m") == before
        assert "Reloading weights inplace" in emu.log_text()


def test_plain_wake_after_level_2_serves_other_output(emulator_factory: EmulatorFactory) -> None:
    """The counterpart of the test above: without the reload the output changes."""
    with emulator_factory(*FAST, version="0.11.0") as emu, EngineClient(emu.url) as client:
        before = complete(emu, "facebook/opt-125m")
        client.sleep(2)
        client.wake()

        assert complete(emu, "facebook/opt-125m") != before


def test_0_33_json_answers_through_a_level_2_cycle(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu, EngineClient(emu.url) as client:
        before = complete(emu, "facebook/opt-125m")
        client.sleep(2)
        state = client.metrics().sleep_state
        client.wake_level2()

        assert state is SleepState.DISCARD_ALL
        assert client.metrics().sleep_state is SleepState.AWAKE
        assert complete(emu, "facebook/opt-125m") == before


def test_level_0_pauses_and_scheduling_tag_resumes_on_0_17(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu, EngineClient(emu.url) as client:
        client.sleep(0)
        asleep = client.is_sleeping()
        client.wake(["scheduling"])

        assert (asleep, client.is_sleeping()) == (True, False)


def test_0_7_3_sleeps_and_wakes_without_is_sleeping(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.7.3") as emu, EngineClient(emu.url) as client:
        client.sleep(1)
        client.wake()
        with pytest.raises(UnsupportedByVersion):
            client.is_sleeping()

        assert "wake up the engine" in emu.log_text()


def test_reset_prefix_cache_before_0_8_is_refused_by_version_not_sent(
    emulator_factory: EmulatorFactory,
) -> None:
    with (
        emulator_factory(*FAST, version="0.7.3") as emu,
        EngineClient(emu.url) as client,
        pytest.raises(UnsupportedByVersion) as caught,
    ):
        client.reset_prefix_cache()

    assert "0.7.3 has no POST /reset_prefix_cache" in str(caught.value)
    log = emu.log_text()
    assert '"GET /version HTTP/1.1" 200' in log  # the client asked; the access log shows it
    assert "/reset_prefix_cache" not in log


@pytest.mark.parametrize("version", ["0.8.0", "0.33.0"])
def test_reset_prefix_cache_from_0_8_resets_it(
    shared_emulator: SharedEmulator, version: str
) -> None:
    emu = shared_emulator(version)
    with EngineClient(emu.url) as client:
        client.reset_prefix_cache()

    assert "Resetting prefix cache" in emu.log_text()


def test_unsupported_operations_fail_before_any_request() -> None:
    # Nothing listens on this port: reaching the network would raise EngineUnreachable.
    url = f"http://127.0.0.1:{free_port()}"
    with EngineClient(url, version=v("0.8.0")) as client:
        with pytest.raises(UnsupportedByVersion, match="tags"):
            client.wake(["weights"])
        with pytest.raises(UnsupportedByVersion, match="collective_rpc") as caught:
            client.wake_level2()

    assert caught.value.url == url


def test_dev_mode_off_is_reported_as_such(emulator_factory: EmulatorFactory) -> None:
    with (
        emulator_factory(*FAST, dev_mode=None) as emu,
        EngineClient(emu.url) as client,
        pytest.raises(DevModeOff, match="sleep"),
    ):
        client.sleep(1)


def test_closed_port_is_unreachable_and_retryable() -> None:
    with (
        EngineClient(f"http://127.0.0.1:{free_port()}") as client,
        pytest.raises(EngineUnreachable) as caught,
    ):
        client.health()

    assert caught.value.retryable


def test_malformed_url_is_unreachable_and_not_retryable() -> None:
    with pytest.raises(EngineUnreachable, match="invalid engine URL") as caught:
        EngineClient("http://[::1")

    assert not caught.value.retryable


def test_slow_sleep_beyond_the_timeout_is_engine_timeout(
    emulator_factory: EmulatorFactory,
) -> None:
    # The first level-1 sleep pins host memory for the weights: 0.57 s for 1 GiB.
    slow = ("--enable-sleep-mode", "--weights-gib", "1", "--startup-seconds", "0")
    timeouts = Timeouts(slow=0.2)
    with (
        emulator_factory(*slow, version="0.11.0") as emu,
        EngineClient(emu.url, timeouts=timeouts) as client,
        pytest.raises(EngineTimeout) as caught,
    ):
        client.sleep(1)

    assert caught.value.retryable


def test_api_key_is_sent_to_openai_paths(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, "--api-key", "s3cret") as emu:
        with EngineClient(emu.url, api_key="s3cret") as client:
            models = client.models()
        with EngineClient(emu.url) as keyless, pytest.raises(EngineUnauthorized):
            keyless.models()

    assert models == ["facebook/opt-125m"]


def test_wake_without_room_on_the_gpu_is_wake_out_of_memory(tmp_path: Path) -> None:
    gpus = SimGpuDir(tmp_path / "gpus")
    gpus.create([SimGpu(0, "GPU-sim-0", "Simulated H100", 4 * GIB)])
    env = {"VLLM_CONSOLE_SIM_GPU_DIR": str(gpus.path), "CUDA_VISIBLE_DEVICES": "0"}
    with run_emulator(tmp_path, *FAST, env=env) as emu, EngineClient(emu.url) as client:
        client.sleep(1)
        # This test process takes the room the sleeper gave back.
        gpus.publish(os.getpid(), {0: 3 * GIB})
        with pytest.raises(WakeOutOfMemory):
            client.wake()

        assert client.is_sleeping() is True
