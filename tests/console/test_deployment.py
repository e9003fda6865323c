"""docker-compose.yml and the Dockerfile: valid, and every command they run exists here."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def compose_config(
    *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "CONSOLE_SECRET_KEY"}
    }
    return subprocess.run(
        [*compose_command(), "-f", "docker-compose.yml", *extra, "config"],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = compose_config("--env-file", ".env.example")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return dict(config["services"])


def test_compose_file_names_the_expected_services(services: dict[str, Any]) -> None:
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert any(name.startswith("agent") for name in services)


def test_compose_refuses_to_run_without_the_secrets() -> None:
    result = compose_config()
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "CONSOLE_SECRET_KEY" in result.stderr


def test_agents_reserve_the_nvidia_gpus(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name.startswith("agent"):
            devices = service["deploy"]["resources"]["reservations"]["devices"]
            assert devices[0]["driver"] == "nvidia"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "web", "worker", "background"):
        assert "healthcheck" in services[name], name


def test_jobs_and_background_tasks_have_workers_of_their_own(services: dict[str, Any]) -> None:
    queues = {
        name: set(command[command.index("--queues") + 1].split(","))
        for name, service in services.items()
        if "worker" in (command := list(service.get("command") or []))
    }
    assert queues == {"worker": {"control"}, "background": {"background"}}


def check_command_exists(command: list[str]) -> None:
    """Resolve what a service runs to something in this project (or fail)."""
    if command[:2] == ["python", "manage.py"]:
        assert command[2] in get_commands(), f"no management command {command[2]!r}"
    elif command[0] == "uvicorn":
        module, attribute = command[1].split(":")
        assert hasattr(importlib.import_module(module), attribute), command[1]
    elif command[0] == "celery":
        app = command[command.index("-A") + 1]
        assert hasattr(importlib.import_module(f"{app}.celery"), "app"), app
    else:
        pytest.fail(f"unknown command {command}")


def test_every_console_service_runs_a_command_of_this_project(services: dict[str, Any]) -> None:
    checked = 0
    for service in services.values():
        if str(service.get("image", "")).startswith("vllm-console"):
            check_command_exists(list(service["command"]))
            checked += 1
    assert checked >= 5


def test_dockerfile_copies_only_paths_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
