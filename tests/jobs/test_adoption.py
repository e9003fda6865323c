"""An engine started by hand and registered by URL is adopted: probed at once and
by the reconcile loop, operated like a launched one, its log and GPU memory followed.

A real control worker, Celery beat (reconcile every second), the agent of ``gpu-test`` and
emulators started by the test (not by the console) on the agent's simulated GPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.models import (
    Gpu,
    Host,
    Instance,
    InstanceState,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Subject,
)
from console.roles import Role
from engines.simgpu import SIM_GPU_DIR_ENV
from tests.console.conftest import create_user
from tests.gateway.conftest import (  # noqa: F401  (fixtures)
    gateway,
    gateway_factory,
    inference_key,
    post_completion,
)
from tests.jobs.conftest import run_job, with_evidence
from tests.support.console import console_process
from tests.support.emulator import EmulatorProcess, free_port, run_emulator

pytestmark = pytest.mark.slow

RECONCILE_PERIOD = 1.0  # tests.support.console: CONSOLE_RECONCILE_SECONDS
SMALL = ("--enable-sleep-mode", "--weights-gib", "2", "--kv-cache-gib", "2",
         "--startup-seconds", "0", "--pin-alloc-s-per-gib", "0.1")  # fmt: skip
Engine = Callable[[str], AbstractContextManager[EmulatorProcess]]


@pytest.fixture
def beat(console_host: Host, tmp_path: Path) -> Iterator[None]:
    """Celery beat, as ``manage.py up`` runs it: the reconcile round every second."""
    data_dir = tmp_path / "beat"
    argv = ["-m", "celery", "-A", "console", "beat", "--loglevel", "INFO",
            "--schedule", str(data_dir / "celerybeat-schedule")]  # fmt: skip
    with console_process(argv, data_dir, "beat", "beat: Starting"):
        yield


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """``with engine("alpha")``: an emulator serving ``test/alpha``, started by hand, on the
    agent's simulated GPU (so its memory shows there, under its own process)."""

    def start(name: str) -> AbstractContextManager[EmulatorProcess]:
        sim = {SIM_GPU_DIR_ENV: str(tmp_path / "agent" / "simgpu")}
        return run_emulator(tmp_path, *SMALL, model=f"test/{name}", env=sim)

    return start


@pytest.fixture
def admin_api(transactional_db: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


def register(api: APIClient, host: Host, name: str, url: str, **fields: Any) -> Instance:
    """``POST /api/instances/`` as an admin would for an engine already running."""
    gpu = Gpu.objects.get(host=host, index=0)
    body = {"name": name, "served_model_name": f"test/{name}", "base_url": url,
            "host": host.pk, "gpus": [gpu.pk], **fields}  # fmt: skip
    response = api.post("/api/instances/", body, format="json")
    assert response.status_code == 201, response.content
    return Instance.objects.get(pk=response.json()["id"])


def wait_state(instance: Instance, state: str, timeout: float) -> float:
    """Seconds until the instance's row says ``state``."""
    start = time.monotonic()
    while instance.state != state:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{instance.name} still {instance.state}: {instance.state_detail}")
        time.sleep(0.05)
        instance.refresh_from_db()
    return time.monotonic() - start


def wait_sample(instance: Instance, timeout: float = 10) -> MemorySample:
    """The first GPU sample in which the agent attributed memory to the instance."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sample in MemorySample.objects.filter(subject=Subject.GPU).order_by("-at")[:5]:
            if sample.extra.get("processes", {}).get(instance.name):
                return sample
        time.sleep(0.1)
    raise TimeoutError(f"no GPU memory attributed to {instance.name}")


def succeeded(instance: Instance, kind: str, **params: object) -> Job:
    job = run_job(instance, kind, 60, **params)
    assert job.state == JobState.SUCCEEDED, job.error
    instance.refresh_from_db()
    return job


def test_a_registered_running_engine_is_awake_within_a_reconcile_period(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        # One period, and slack for a loaded two-core machine (worker, beat, agent, engine).
        assert wait_state(instance, InstanceState.AWAKE, timeout=10) < RECONCILE_PERIOD + 2
        assert instance.vllm_version == "0.11.0"
        assert instance.pid is None


def test_an_engine_started_after_its_registration_is_picked_up_by_reconcile(
    beat: None,
    console_host: Host,
    engine: Engine,
    admin_api: APIClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    instance = register(admin_api, console_host, "alpha", f"http://127.0.0.1:{port}")
    monkeypatch.setattr("tests.support.emulator.free_port", lambda: port)
    with engine("alpha"):
        wait_state(instance, InstanceState.AWAKE, timeout=RECONCILE_PERIOD + 5)


def test_an_engine_serving_another_model_is_an_error_that_says_so(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(
            admin_api, console_host, "beta", alpha.url, served_model_name="test/beta"
        )
        wait_state(instance, InstanceState.ERROR, timeout=5)
        assert "serves test/alpha, not test/beta" in instance.state_detail


def test_an_adopted_engine_sleeps_and_wakes_with_engine_seconds_from_its_log(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(
            admin_api, console_host, "alpha", alpha.url, log_path=str(alpha.log_path)
        )
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        slept = with_evidence(succeeded(instance, JobKind.SLEEP, level=1))
        assert instance.state == InstanceState.SLEEPING
        woke = with_evidence(succeeded(instance, JobKind.WAKE))
        assert instance.state == InstanceState.AWAKE
    assert slept.engine_seconds is not None
    assert slept.engine_seconds > 0
    assert woke.engine_seconds is not None
    assert woke.engine_seconds > 0


def test_without_a_log_an_adopted_engines_jobs_carry_console_seconds(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        slept = with_evidence(succeeded(instance, JobKind.SLEEP, level=2))
    assert slept.engine_seconds is None
    assert slept.wall_seconds is not None
    assert slept.wall_seconds > 0
    assert slept.outcome_detail["evidence"] == "complete"


def test_an_adopted_engines_gpu_memory_is_attributed_to_it(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        sample = wait_sample(instance)
    assert sample.extra["processes"]["alpha"] >= 4 * 2**30  # 2 GiB weights + 2 GiB KV cache


def test_a_switch_between_two_adopted_engines_sleeps_one_and_wakes_the_other(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha, engine("beta") as beta:
        first = register(admin_api, console_host, "alpha", alpha.url)
        second = register(admin_api, console_host, "beta", beta.url)
        wait_state(first, InstanceState.AWAKE, timeout=5)
        wait_state(second, InstanceState.AWAKE, timeout=5)
        succeeded(second, JobKind.SLEEP, level=1)
        succeeded(second, JobKind.SWITCH, level=1, sleep=[first.pk])
        first.refresh_from_db()
    assert (first.state, second.state) == (InstanceState.SLEEPING, InstanceState.AWAKE)


def test_an_adopted_engine_cannot_be_stopped_by_the_console(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        response = admin_api.post(f"/api/instances/{instance.pk}/stop/", {}, format="json")
    assert response.status_code == 409
    assert "stop the engine where it runs" in response.json()["detail"]


def test_the_instance_page_says_which_evidence_the_agent_gathers(
    beat: None, console_host: Host, engine: Engine, admin_api: APIClient, client: Client
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        wait_sample(instance)
        client.force_login(create_user(Role.VIEWER))
        page = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'GPU memory attributed</dt><dd data-evidence="yes">yes (process ' in page
    assert f"listens on port {alpha.port}" in page
    assert 'Log followed</dt><dd data-evidence="no">no (no log path given' in page


def test_the_gateway_wakes_a_sleeping_adopted_engine_and_serves_it(
    beat: None,
    console_host: Host,
    engine: Engine,
    admin_api: APIClient,
    gateway: str,  # noqa: F811  (the fixture imported above)
    inference_key: str,  # noqa: F811
) -> None:
    with engine("alpha") as alpha:
        instance = register(admin_api, console_host, "alpha", alpha.url)
        wait_state(instance, InstanceState.AWAKE, timeout=5)
        succeeded(instance, JobKind.SLEEP, level=1)
        response = post_completion(gateway, inference_key, "test/alpha", timeout=60)
        instance.refresh_from_db()
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"]
    assert instance.state == InstanceState.AWAKE
