"""Fault-injection helpers: the jobs fixtures, the engine's truth, requests counted in its log."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from console.jobs.reconcile import reconcile_all
from console.models import Instance, InstanceState, Job, JobState
from engines.launcher import Launcher
from tests.jobs.conftest import console_host, create_engine_instance, make_instance

__all__ = ["console_host", "create_engine_instance", "make_instance"]

State = InstanceState
# States that say "this engine is not running": what a dead engine's row may show.
NOT_RUNNING = {State.ERROR, State.STOPPED}


def stop_engines(agent_dir: Path) -> None:
    """Engines outlive their agent by design: stop those an agent under ``agent_dir`` started."""
    engines = Launcher(agent_dir / "engines")
    for engine in engines.find_running():
        engines.stop(engine, grace=5)


def sigkill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a console process (worker, agent) and reap it: no chance to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def engine_truth(instance: Instance) -> set[InstanceState]:
    """The states the row may show, from what the engine itself answers right now."""
    try:
        httpx.get(f"{instance.base_url}/health", timeout=2).raise_for_status()
        asleep = httpx.get(f"{instance.base_url}/is_sleeping", timeout=2).json()["is_sleeping"]
    except httpx.HTTPError:
        return NOT_RUNNING
    return {State.SLEEPING if asleep else State.AWAKE}


def assert_rows_match_engines(instances: list[Instance]) -> None:
    """After one reconcile pass, every row says what its engine says."""
    reconcile_all()
    for instance in instances:
        instance.refresh_from_db()
        truth = engine_truth(instance)
        assert instance.state in truth, f"{instance.name}: row {instance.state}, engine {truth}"


def posts_logged(instance: Instance, path: str) -> int:
    """How many ``POST <path>`` the engine answered, from its uvicorn access lines."""
    instance.refresh_from_db()
    log = Path(instance.log_path)
    return log.read_text(errors="replace").count(f'"POST {path}') if log.exists() else 0


def wait_until(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s")


def wait_state(instance: Instance, state: InstanceState, timeout: float = 20) -> None:
    def reached() -> bool:
        instance.refresh_from_db()
        return bool(instance.state == state)

    wait_until(reached, timeout, f"{instance.name} {state}")


def kill_engine(instance: Instance) -> None:
    """SIGKILL the engine's whole process group (the launcher starts it in its own session)."""
    instance.refresh_from_db()
    assert instance.pid is not None
    os.killpg(instance.pid, signal.SIGKILL)


def assert_no_job_running() -> None:
    running = list(Job.objects.filter(state=JobState.RUNNING).values_list("pk", "kind"))
    assert running == [], f"jobs still running: {running}"
