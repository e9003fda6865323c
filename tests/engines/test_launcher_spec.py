"""The command line and environment the launcher builds from a LaunchSpec."""

from __future__ import annotations

import sys

import pytest

from engines.launcher import LaunchSpec, build_command, build_env, redact_command
from engines.launcher.serve_flags import read_flag

EMULATOR = (sys.executable, "-m", "emulator")


def make_spec(**overrides: object) -> LaunchSpec:
    fields: dict[str, object] = {
        "executable": ("vllm",),
        "model": "facebook/opt-125m",
        "port": 8001,
        "name": "opt",
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


def test_command_puts_managed_flags_before_extra_args() -> None:
    spec = make_spec(
        host="0.0.0.0",
        served_model_name="opt",
        gpu_memory_utilization=0.45,
        extra_args=("--max-model-len", "2048"),
    )
    assert build_command(spec) == [
        "vllm", "serve", "facebook/opt-125m", "--host", "0.0.0.0", "--port", "8001",
        "--enable-sleep-mode", "--served-model-name", "opt",
        "--gpu-memory-utilization", "0.45", "--max-model-len", "2048",
    ]  # fmt: skip


def test_command_omits_unset_optional_flags() -> None:
    command = build_command(make_spec(executable=EMULATOR))
    assert command[:4] == [*EMULATOR, "serve"]
    assert "--served-model-name" not in command
    assert "--gpu-memory-utilization" not in command


@pytest.mark.parametrize(
    "arg", ["--port", "--port=9000", "--host", "--gpu_memory_utilization", "--no-enable-sleep-mode"]
)
def test_command_refuses_extra_args_that_contradict_managed_flags(arg: str) -> None:
    with pytest.raises(ValueError, match="must not set --"):
        build_command(make_spec(extra_args=(arg, "1")))


def test_command_refuses_empty_model() -> None:
    with pytest.raises(ValueError, match="model must not be empty"):
        build_command(make_spec(model=" "))


def test_command_refuses_empty_extra_arg() -> None:
    with pytest.raises(ValueError, match="empty arguments"):
        build_command(make_spec(extra_args=("--max-model-len", "")))


def test_command_refuses_a_name_that_is_not_a_directory_name() -> None:
    with pytest.raises(ValueError, match="instance name"):
        build_command(make_spec(name="../escape"))


def test_command_refuses_utilization_above_one() -> None:
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        build_command(make_spec(gpu_memory_utilization=1.5))


def test_redact_command_hides_api_keys_in_both_spellings() -> None:
    command = ["vllm", "serve", "m", "--api-key", "k1", "k2", "--port", "1", "--hf-token=t"]
    assert redact_command(command) == [
        "vllm", "serve", "m", "--api-key", "***", "***", "--port", "1", "--hf-token=***",
    ]  # fmt: skip


def test_env_sets_dev_mode_and_visible_devices() -> None:
    env = build_env(make_spec(gpu_ids=(2, 3), dev_mode="1"), {"PATH": "/bin"})
    assert env["VLLM_SERVER_DEV_MODE"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert env["PATH"] == "/bin"


def test_env_spec_values_override_base() -> None:
    env = build_env(make_spec(env={"HF_HOME": "/models"}), {"HF_HOME": "/root/.cache"})
    assert env["HF_HOME"] == "/models"


def test_env_managed_values_override_base() -> None:
    base = {"VLLM_SERVER_DEV_MODE": "0", "CUDA_VISIBLE_DEVICES": "7"}
    env = build_env(make_spec(gpu_ids=(1,)), base)
    assert (env["VLLM_SERVER_DEV_MODE"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "1")


def test_env_defaults_to_unbuffered_output_and_pci_bus_order() -> None:
    env = build_env(make_spec(), {})
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_env_refuses_dev_mode_true() -> None:
    with pytest.raises(ValueError, match="VLLM_SERVER_DEV_MODE must be an integer"):
        build_env(make_spec(dev_mode="true"), {})


def test_env_refuses_spec_env_contradicting_gpu_ids_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES") as error:
        build_env(make_spec(gpu_ids=(0,), env={"CUDA_VISIBLE_DEVICES": "secret-5"}), {})
    assert "secret-5" not in str(error.value)


def test_env_refuses_no_gpus() -> None:
    with pytest.raises(ValueError, match="at least one GPU"):
        build_env(make_spec(gpu_ids=()), {})


def test_redact_command_reads_secret_flags_as_vllm_does() -> None:
    command = [
        "vllm",
        "serve",
        "m",
        "--api_k",
        "k1",
        "--hf-tok=t",
        "--db-password",
        "p",
        "--seed",
        "1",
    ]
    assert redact_command(command) == [
        "vllm", "serve", "m", "--api_k", "***", "--hf-tok=***", "--db-password", "***",
        "--seed", "1",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("arg", "meanings"),
    [
        ("--max_model_len=8", ("--max-model-len",)),
        ("--hos", ("--host",)),
        ("--compilation_config.level", ("--compilation-config",)),
        ("--no-enable-sleep", ("--no-enable-sleep-mode",)),
        ("--not-a-vllm-flag", ()),
    ],
)
def test_read_flag_resolves_underscores_prefixes_and_dotted_keys(
    arg: str, meanings: tuple[str, ...]
) -> None:
    flag = read_flag(arg)
    assert flag is not None
    assert flag.meanings == meanings


def test_an_ambiguous_prefix_that_may_be_an_owned_flag_is_refused() -> None:
    flag = read_flag("--po")
    assert flag is not None
    assert len(flag.meanings) > 1, "argparse itself refuses it as ambiguous"
    with pytest.raises(ValueError, match=r"must not set --port \(written --po, an abbrev"):
        build_command(make_spec(extra_args=("--po", "9000")))


def test_values_and_positionals_are_not_flags() -> None:
    assert read_flag("0.0.0.0") is None
    assert read_flag("-tp") is None
    assert read_flag("--") is None
