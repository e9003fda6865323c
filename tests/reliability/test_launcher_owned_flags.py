"""Flags the launcher owns cannot be overridden, abbreviated or not.

``--hos 0.0.0.0`` is ``--host 0.0.0.0`` to vLLM's parser and would open the engine's
unauthenticated ``/sleep`` and ``/collective_rpc`` to the network; ``--po``, ``--u`` (for
``--uds``) and ``--no-enable-sleep`` likewise undo what the launcher set. They are refused
when an instance is registered and again by the launcher.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from console.roles import Role
from engines.launcher import Launcher, LaunchSpec, build_command
from tests.console.conftest import create_user, fast_password_hashing
from tests.support.emulator import free_port

__all__ = ["fast_password_hashing"]


@pytest.fixture
def admin_api(db: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


OVERRIDES = [
    (["--hos", "0.0.0.0"], "--host"),
    (["--hos=0.0.0.0"], "--host"),
    (["--HOST", "0.0.0.0"], None),
    (["--po", "9000"], "--port"),
    (["--no-enable-sleep"], "--no-enable-sleep-mode"),
    (["--no_enable_sleep_mode"], "--no-enable-sleep-mode"),
    (["--gpu_mem", "0.95"], "--gpu-memory-utilization"),
    (["--u", "/tmp/engine.sock"], "--uds"),
    (["--served-model", "other"], "--served-model-name"),
]
OWNED = [(args, flag) for args, flag in OVERRIDES if flag is not None]


def spec_with(extra_args: list[str]) -> LaunchSpec:
    return LaunchSpec(
        executable=(sys.executable, "-m", "emulator"),
        model="facebook/opt-125m",
        port=free_port(),
        name="owned",
        extra_args=("--startup-seconds", "0", *extra_args),
    )


@pytest.mark.parametrize(("launch_args", "flag"), OWNED)
def test_api_refuses_launcher_owned_flags_written_as_abbreviations(
    admin_api: APIClient, launch_args: list[str], flag: str
) -> None:
    response = admin_api.post(
        "/api/instances/",
        {
            "name": "llama",
            "served_model_name": "meta/llama",
            "base_url": "http://127.0.0.1:18000",
            "launch_args": launch_args,
        },
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["launch_args"][0]
    assert flag in message
    assert "set by the console" in message


@pytest.mark.parametrize(("launch_args", "flag"), OWNED)
def test_launcher_refuses_launcher_owned_flags_without_starting_anything(
    tmp_path: Path, launch_args: list[str], flag: str
) -> None:
    launcher = Launcher(tmp_path / "run")
    with pytest.raises(ValueError, match=f"must not set {flag}"):
        launcher.start(spec_with(launch_args))
    assert launcher.find_running() == []


def test_flags_vllm_does_not_confuse_with_owned_ones_still_pass() -> None:
    # "--HOST" is no flag of vLLM's (argparse is case-sensitive): vLLM itself refuses it.
    extra = ["--max-model-len", "4096", "--max_num_seqs=8", "--HOST", "x", "--seed", "1"]
    command = build_command(spec_with(extra))
    assert command[-len(extra) :] == extra
