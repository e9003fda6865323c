"""The emulator's command line and environment, parsed without starting a server."""

from __future__ import annotations

import pytest

from emulator.config import DevModeValueError, parse_config
from engines.versions import VllmVersion


def test_underscored_flags_are_read_as_dashed_ones_like_vllm() -> None:
    config = parse_config(["serve", "m", "--max_model_len=1024", "--tensor_parallel_size", "2"], {})
    assert (config.max_model_len, config.tensor_parallel_size) == (1024, 2)


def test_no_enable_sleep_mode_is_accepted() -> None:
    assert parse_config(["serve", "m", "--no-enable-sleep-mode"], {}).enable_sleep_mode is False


def test_vllm_api_key_applies_unless_api_key_is_given() -> None:
    env = {"VLLM_API_KEY": "from-env"}
    assert parse_config(["serve", "m"], env).api_keys == ("from-env",)
    assert parse_config(["serve", "m", "--api-key", "a", "b"], env).api_keys == ("a", "b")


def test_environment_sets_dev_mode_gpus_and_log_prefix() -> None:
    env = {"VLLM_SERVER_DEV_MODE": "1", "CUDA_VISIBLE_DEVICES": "2,3", "VLLM_LOGGING_PREFIX": "x "}
    config = parse_config(["serve", "m", "--emulate-version", "v0.17.0"], env)
    assert (config.dev_mode, config.visible_gpus, config.logging_prefix) == (True, (2, 3), "x ")
    assert config.version == VllmVersion(0, 17, 0)


def test_dev_mode_must_be_an_integer() -> None:
    with pytest.raises(DevModeValueError):
        parse_config(["serve", "m"], {"VLLM_SERVER_DEV_MODE": "yes"})


def test_non_default_args_leave_out_the_emulator_physics() -> None:
    config = parse_config(["serve", "m", "--weights-gib", "4", "--port", "9000"], {})
    assert dict(config.non_default_args) == {"model": "m", "port": 9000}
