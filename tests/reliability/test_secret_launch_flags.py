"""Secrets in launch flags, however spelt, reach no viewer, log or file.

vLLM's parser takes ``--api_key``, ``--api-k`` and ``--hf_token=`` for ``--api-key`` and
``--hf-token``: the API refuses them all in ``launch_args`` (the value would be shown to
every viewer), and the launcher redacts them wherever it records a command line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from console.roles import Role
from engines.launcher import Launcher, LaunchSpec
from engines.launcher.logfiles import last_lines, redact_secrets
from engines.launcher.pidfile import PID_FILE_NAME
from tests.console.conftest import create_instance, create_user, fast_password_hashing
from tests.support.emulator import free_port

__all__ = ["fast_password_hashing"]


@pytest.fixture
def admin_api(db: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


SECRET = "sk-launch-flag-secret-7d31"


def new_instance(launch_args: list[str]) -> dict[str, object]:
    return {
        "name": "llama",
        "served_model_name": "meta/llama",
        "base_url": "http://127.0.0.1:18000",
        "launch_args": launch_args,
    }


@pytest.mark.parametrize(
    "launch_args",
    [
        ["--api_key", SECRET],
        ["--api-k", SECRET],
        [f"--api-k={SECRET}"],
        ["--hf_token", SECRET],
        [f"--hf-tok={SECRET}"],
        ["--max-model-len", "4096", "--db-password", SECRET],
    ],
)
def test_api_refuses_secret_launch_flags_however_spelt(
    admin_api: APIClient, launch_args: list[str]
) -> None:
    response = admin_api.post("/api/instances/", new_instance(launch_args), format="json")
    assert response.status_code == 400
    message = response.json()["launch_args"][0]
    assert "api_key" in message
    assert "launch_env" in message
    assert SECRET not in response.content.decode()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path / "run", poll_interval=0.05)
    yield launcher
    for engine in launcher.find_running():
        launcher.stop(engine, grace=5)


def test_abbreviated_secret_flags_are_redacted_in_pid_file_agent_log_and_tail(
    launcher: Launcher, caplog: pytest.LogCaptureFixture
) -> None:
    # The emulator parses like vLLM: "--api-k" is its --api-key, and it prints the value in
    # its "non-default args" line, as vLLM 0.11 does.
    spec = LaunchSpec(
        executable=(sys.executable, "-m", "emulator"),
        model="facebook/opt-125m",
        port=free_port(),
        name="secretive",
        extra_args=("--startup-seconds", "0", "--api-k", SECRET, f"--hf_token={SECRET}"),
    )
    with caplog.at_level(logging.INFO, logger="engines.launcher"):
        engine = launcher.start(spec)
    launcher.wait_ready(engine, timeout=30)
    raw_log = engine.log_path.read_text()
    assert SECRET in raw_log, "the engine printed its arguments: the redaction is tested"
    assert SECRET not in (launcher.instance_dir("secretive") / PID_FILE_NAME).read_text()
    assert SECRET not in caplog.text
    assert not [line for line in last_lines(engine.log_path, 200) if SECRET in line]


@pytest.mark.parametrize(
    "line",
    [
        f"INFO non-default args: {{'model': 'm', 'api_key': ['{SECRET}'], 'port': 8000}}",
        f"INFO non-default args: {{'hf_token': '{SECRET}'}}",
        f"INFO args: Namespace(host=None, api_key=['{SECRET}'], seed=0)",
        f"vllm serve: error: unrecognized arguments: --my-access-token {SECRET}",
        f"usage error near --api_k {SECRET} --seed 0",
        f"usage error near --hf-tok={SECRET}",
    ],
)
def test_engine_log_lines_lose_secret_values_however_the_flag_was_spelt(line: str) -> None:
    redacted = redact_secrets(line)
    assert SECRET not in redacted
    assert "***" in redacted


def test_a_secret_stored_in_launch_args_before_the_fix_is_not_shown(db: None) -> None:
    instance = create_instance(launch_args=["--max-model-len", "4096", "--api_k", SECRET])
    viewer = APIClient()
    viewer.force_authenticate(create_user(Role.VIEWER))
    response = viewer.get(f"/api/instances/{instance.pk}/")
    assert response.status_code == 200
    assert response.json()["launch_args"] == ["--max-model-len", "4096", "--api_k", "***"]
    assert SECRET not in response.content.decode()
