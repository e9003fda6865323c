"""The agent chooses its GPU probe once, at its start, and what it launches follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.agent.command import AgentOptions, host_probe
from console.jobs.process import launch_on, launch_spec, launcher
from console.models import Instance
from engines.probes import NvmlProbe, SimGpuProbe
from engines.simgpu import SIM_GPU_DIR_ENV
from tests.console.conftest import create_instance

pytestmark = pytest.mark.django_db


def options(sim_gpus: int = 0) -> AgentOptions:
    return AgentOptions(host="h", sim_gpus=sim_gpus, sim_gpu_gib=24, interval=1, concurrency=1)


@pytest.fixture
def sim_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this agent's simulated GPUs would be; the process's launcher is restored after."""
    settings.SIM_GPU_DIR = tmp_path / "simgpu"
    monkeypatch.setattr(launcher(), "env", {})
    return Path(settings.SIM_GPU_DIR)


@pytest.fixture
def instance() -> Instance:
    return create_instance(base_url="http://127.0.0.1:8765", launch_env={"HF_TOKEN": "secret"})


def test_without_simulated_gpus_the_agent_reads_nvml_and_launches_plain_engines(
    sim_dir: Path, instance: Instance
) -> None:
    probe = host_probe(options())
    assert isinstance(probe, NvmlProbe)
    launch_on(probe)
    assert launcher().env == {}
    assert dict(launch_spec(instance).env) == {"HF_TOKEN": "secret"}
    assert not sim_dir.exists(), "production never creates simulation paths"


def test_with_simulated_gpus_the_agent_reads_them_and_its_engines_publish_there(
    sim_dir: Path, instance: Instance
) -> None:
    probe = host_probe(options(sim_gpus=1))
    assert isinstance(probe, SimGpuProbe)
    assert [reading.index for reading in probe.read()] == [0]
    launch_on(probe)
    assert launcher().env == {SIM_GPU_DIR_ENV: str(sim_dir)}
    assert dict(launch_spec(instance).env) == {"HF_TOKEN": "secret"}, "the instance's own"


def test_simulated_gpus_declared_by_an_earlier_run_are_read_again(sim_dir: Path) -> None:
    host_probe(options(sim_gpus=2))
    probe = host_probe(options())
    assert isinstance(probe, SimGpuProbe)
    assert [reading.index for reading in probe.read()] == [0, 1]
