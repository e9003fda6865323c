"""Dev-mode gating, ``--api-key`` scope and the command line of the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, SharedEmulator, get, post


@pytest.mark.parametrize("dev_mode", [None, "0"])
def test_dev_endpoints_do_not_exist_without_dev_mode(
    shared_emulator: SharedEmulator, dev_mode: str | None
) -> None:
    emu = shared_emulator(dev_mode=dev_mode)
    sleep = post(emu, "/sleep?level=1")
    assert (sleep.status_code, sleep.json()) == (404, {"detail": "Not Found"})
    assert get(emu, "/is_sleeping").status_code == 404


def test_dev_mode_one_declares_the_sleep_endpoints(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator(dev_mode="1")
    assert get(emu, "/is_sleeping").json() == {"is_sleeping": False}
    assert "SECURITY WARNING: Development endpoints are enabled!" in emu.log_text()


def test_wrong_method_on_a_dev_endpoint_is_405(shared_emulator: SharedEmulator) -> None:
    answer = get(shared_emulator(), "/sleep")
    assert (answer.status_code, answer.json()) == (405, {"detail": "Method Not Allowed"})


def test_dev_mode_that_is_not_an_integer_kills_the_server(
    emulator_factory: EmulatorFactory,
) -> None:
    # vLLM parses the variable with int() at import: "true" raises ValueError.
    with (
        pytest.raises(RuntimeError, match="invalid literal for int"),
        emulator_factory(*FAST, dev_mode="true"),
    ):
        pass


def test_api_key_protects_v1_but_not_sleep(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, "--api-key", "secret") as emu:
        refused = get(emu, "/v1/models")
        assert (refused.status_code, refused.json()) == (401, {"error": "Unauthorized"})
        allowed = get(emu, "/v1/models", headers={"Authorization": "Bearer secret"})
        assert allowed.status_code == 200
        assert post(emu, "/sleep?level=1").status_code == 200
        assert get(emu, "/is_sleeping").json() == {"is_sleeping": True}


def test_unknown_serve_flags_are_ignored_with_a_warning(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, "--dtype", "auto", "--enforce-eager") as emu:
        assert get(emu, "/health").status_code == 200
        assert "WARNING" in emu.log_text()
        assert "ignores these vllm serve arguments: --dtype auto --enforce-eager" in emu.log_text()


def test_malformed_flag_value_is_an_argparse_error() -> None:
    command = [
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "m",
        "--gpu-memory-utilization",
        "2",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "--gpu-memory-utilization" in done.stderr


@pytest.mark.parametrize(("version", "dev_mode", "status"), [
    ("0.12.0", None, 200),  # 0.12-0.15: no dev-mode gate
    ("0.16.0", None, 404),  # 0.16+: dev mode only
    ("0.16.0", "1", 200),
])  # fmt: skip
def test_pause_endpoints_gating_per_version(
    shared_emulator: SharedEmulator, version: str, dev_mode: str | None, status: int
) -> None:
    assert get(shared_emulator(version, dev_mode), "/is_paused").status_code == status


def test_flag_vllm_does_not_know_is_an_argparse_error() -> None:
    command = [sys.executable, "-m", "emulator", "serve", "m", "--no-such-flag"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in done.stderr


@pytest.mark.parametrize(("version", "status"), [("0.11.0", 404), ("0.16.0", 200)])
def test_reset_mm_cache_exists_from_0_14(
    shared_emulator: SharedEmulator, version: str, status: int
) -> None:
    assert post(shared_emulator(version), "/reset_mm_cache").status_code == status


def test_server_info_describes_the_configuration(shared_emulator: SharedEmulator) -> None:
    answer = get(shared_emulator(), "/server_info", params={"config_format": "json"})
    assert answer.json()["vllm_config"]["enable_sleep_mode"] is True


def test_world_size_is_the_tensor_parallel_size_in_0_33(shared_emulator: SharedEmulator) -> None:
    assert get(shared_emulator("0.33.0"), "/get_world_size").json() == {"world_size": 1}


def test_elastic_ep_status_needs_no_dev_mode(shared_emulator: SharedEmulator) -> None:
    answer = post(shared_emulator(dev_mode=None), "/is_scaling_elastic_ep")
    assert answer.json() == {"is_scaling_elastic_ep": False}
