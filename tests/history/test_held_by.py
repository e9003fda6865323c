"""Who held a GPU over time: each instance's bytes from the samples' attribution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from console.history.held_by import held_by, instance_gpu_bytes
from console.models import Gpu, Host, Instance, MemorySample, Resolution, Subject
from tests.console.conftest import ClientFactory
from tests.history.conftest import NOW, SampleFactory

HOUR = timedelta(hours=1)
GIB = 1 << 30


def epoch(ago: float) -> float:
    return (NOW - timedelta(seconds=ago)).timestamp()


def test_no_sample_is_no_point(gpu: Gpu) -> None:
    assert held_by(gpu.pk, NOW - HOUR, NOW, NOW).points == []


def test_one_sample_is_one_point_per_instance_then_other(
    gpu: Gpu, gpu_sample: SampleFactory
) -> None:
    gpu_sample(60, 30, extra={"processes": {"other": 1, "qwen": 20, "llama": 9}})
    result = held_by(gpu.pk, NOW - HOUR, NOW, NOW)
    assert result.names == ["llama", "qwen", "other"]
    assert result.points == [[epoch(60), 9.0, 20.0, 1.0]]


def test_an_instance_absent_from_a_sample_held_nothing_then(
    gpu: Gpu, gpu_sample: SampleFactory
) -> None:
    gpu_sample(120, 20, extra={"processes": {"llama": 20}})
    gpu_sample(60, 30, extra={"processes": {"qwen": 30}})
    result = held_by(gpu.pk, NOW - HOUR, NOW, NOW)
    assert result.names == ["llama", "qwen"]
    assert result.points == [[epoch(120), 20.0, 0.0], [epoch(60), 0.0, 30.0]]


def test_samples_outside_the_range_are_left_out(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(2 * 3600, 20, extra={"processes": {"llama": 20}})
    assert held_by(gpu.pk, NOW - HOUR, NOW, NOW).points == []


def test_ninety_days_are_averaged_into_the_memory_series_buckets(
    gpu: Gpu, gpu_sample: SampleFactory
) -> None:
    # 90 days of hour rollups are re-bucketed two hours wide (resolution.choose).
    start = NOW - timedelta(days=90)
    bucket = int(start.timestamp()) // 7200 * 7200 + 7200
    for offset, held in ((0, 10 * GIB), (3600, 20 * GIB)):
        at = NOW - timedelta(seconds=NOW.timestamp() - bucket - offset)
        gpu_sample((NOW - at).total_seconds(), held, resolution=Resolution.HOUR,
                   extra={"processes": {"llama": held}})  # fmt: skip
    result = held_by(gpu.pk, start, NOW, NOW)
    assert result.points == [[float(bucket), float(15 * GIB)]]


def test_an_instance_held_the_sum_over_its_gpus(host: Host, instance: Instance) -> None:
    second = Gpu.objects.create(host=host, index=1, total_bytes=100)
    instance.gpus.add(second)
    at = NOW - timedelta(seconds=60)
    for gpu, held in ((host.gpus.get(index=0), 7), (second, 5)):
        MemorySample.objects.create(at=at, subject=Subject.GPU, host=host, gpu=gpu, used_bytes=20,
                                    extra={"processes": {"llama": held, "other": 8}})  # fmt: skip
    assert instance_gpu_bytes(instance.pk, NOW - HOUR, NOW, NOW) == [[epoch(60), 12.0]]


def test_an_instance_that_held_nothing_has_no_gpu_points(
    instance: Instance, gpu_sample: SampleFactory
) -> None:
    gpu_sample(60, 30, extra={"processes": {"other": 30}})
    assert instance_gpu_bytes(instance.pk, NOW - HOUR, NOW, NOW) == []


@pytest.fixture
def client(viewer: User, session_client: ClientFactory) -> APIClient:
    return session_client(viewer)


def test_the_memory_endpoint_says_who_held_a_gpu(client: APIClient, gpu: Gpu) -> None:
    at = timezone.now() - timedelta(minutes=1)
    MemorySample.objects.create(at=at, subject=Subject.GPU, host=gpu.host, gpu=gpu,
                                used_bytes=30, extra={"processes": {"llama": 30}})  # fmt: skip
    body = client.get(f"/api/history/memory/?subject=gpu&id={gpu.pk}").json()
    ((bucket, *_),) = body["points"]  # the memory series' bucket of that sample
    assert body["held_by"] == {"names": ["llama"], "points": [[bucket, 30.0]]}


def test_an_instance_comes_with_what_it_held_on_its_gpus(
    client: APIClient, instance: Instance
) -> None:
    body = client.get(f"/api/history/memory/?subject=instance&id={instance.pk}").json()
    assert body["gpu_points"] == []
    assert "held_by" not in body


def test_a_host_has_no_gpu_figures(client: APIClient, gpu: Gpu) -> None:
    body = client.get(f"/api/history/memory/?subject=host&id={gpu.host_id}").json()
    assert "held_by" not in body
    assert "gpu_points" not in body
