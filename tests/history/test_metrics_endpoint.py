"""The console's own Prometheus /metrics: who may read it and what it says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from console.models import InstanceState, JobKind, JobState, MemorySample, Subject
from tests.console.conftest import create_host, create_instance, create_job

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_settings(settings: Any) -> None:
    settings.CONSOLE_METRICS_PUBLIC = False
    settings.CONSOLE_METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, token: str | None = TOKEN) -> dict[str, list[Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def value(samples: list[Any], name: str, **labels: str) -> float:
    return float(
        next(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())
    )


def test_without_a_token_the_answer_is_401() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_refused() -> None:
    assert Client().get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_public_metrics_need_no_token(settings: Any) -> None:
    settings.CONSOLE_METRICS_PUBLIC = True
    assert Client().get("/metrics").status_code == 200


def test_a_signed_in_viewer_may_read_them(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    assert "vllm_console_instance_state" in scrape(client, token=None)


def test_instance_state_is_one_for_the_current_state() -> None:
    create_instance(name="llama", state=InstanceState.SLEEPING, sleep_level=2)
    families = scrape()
    states = families["vllm_console_instance_state"]
    assert value(states, "vllm_console_instance_state", instance="llama", state="sleeping") == 1
    assert value(states, "vllm_console_instance_state", instance="llama", state="awake") == 0
    levels = families["vllm_console_instance_sleep_level"]
    assert value(levels, "vllm_console_instance_sleep_level", instance="llama") == 2


def test_job_durations_are_a_histogram_by_kind() -> None:
    instance = create_instance()
    for seconds in (0.2, 3.0, 700.0):
        create_job(instance, JobKind.WAKE, state=JobState.SUCCEEDED, wall_seconds=seconds,
                   engine_seconds=seconds / 2)  # fmt: skip
    family = scrape()["vllm_console_job_duration_seconds"]
    name = "vllm_console_job_duration_seconds"
    assert value(family, f"{name}_bucket", kind="wake", le="0.5") == 1
    assert value(family, f"{name}_bucket", kind="wake", le="5.0") == 2
    assert value(family, f"{name}_count", kind="wake") == 3
    assert value(family, f"{name}_sum", kind="wake") == pytest.approx(703.2)
    engine = scrape()["vllm_console_engine_seconds"]
    assert value(engine, "vllm_console_engine_seconds_count", kind="wake") == 3


def test_jobs_are_counted_by_kind_and_state() -> None:
    instance = create_instance()
    create_job(instance, JobKind.SLEEP, state=JobState.FAILED)
    family = scrape()["vllm_console_jobs"]
    assert value(family, "vllm_console_jobs_total", kind="sleep", state="failed") == 1


def test_gpu_and_host_memory_are_the_latest_samples() -> None:
    host = create_host(name="gpu-m", gpus=1)
    gpu = host.gpus.get()
    now = timezone.now()
    for ago, used in ((2, 10), (1, 30)):
        MemorySample.objects.create(at=now - timedelta(seconds=ago), subject=Subject.GPU,
                                    host=host, gpu=gpu, used_bytes=used)  # fmt: skip
    MemorySample.objects.create(at=now, subject=Subject.HOST, host=host, used_bytes=5,
                                total_bytes=9)  # fmt: skip
    families = scrape()
    gpus = families["vllm_console_gpu_used_bytes"]
    assert value(gpus, "vllm_console_gpu_used_bytes", host="gpu-m", gpu="0") == 30
    assert value(families["vllm_console_host_total_bytes"], "vllm_console_host_total_bytes") == 9
