"""Latency history from the percentiles the agent stores per scrape interval."""

from __future__ import annotations

from datetime import timedelta

from console.history.latency import NO_DATA, latency_series
from console.models import Instance, MemorySample, Resolution, Subject
from tests.history.conftest import NOW


def sample(instance: Instance, ago: int, resolution: str = Resolution.RAW, **extra: object) -> None:
    MemorySample.objects.create(
        at=NOW - timedelta(seconds=ago), resolution=resolution, subject=Subject.INSTANCE,
        host=instance.host, instance=instance, used_bytes=1, extra=extra,
    )  # fmt: skip


def test_intervals_with_percentiles_become_points(instance: Instance) -> None:
    sample(instance, 10, ttft_p50=0.1, ttft_p95=0.3, e2e_p50=1.0, e2e_p95=2.0)
    series = latency_series(instance.pk, NOW - timedelta(minutes=5), NOW, NOW)
    assert series.points == [(int(NOW.timestamp()) - 10, 0.1, 0.3, 1.0, 2.0)]
    assert series.note == ""


def test_no_percentiles_gives_no_points_and_says_why(instance: Instance) -> None:
    sample(instance, 10, kv_cache_usage=0.5)
    series = latency_series(instance.pk, NOW - timedelta(minutes=5), NOW, NOW)
    assert (series.points, series.note) == ([], NO_DATA)


def test_wide_buckets_take_the_mean_p50_and_the_worst_p95(instance: Instance) -> None:
    epoch = int(NOW.timestamp())
    ago = 7200 * 500 + epoch % 7200  # the start of a 2-hour bucket
    sample(instance, ago, Resolution.HOUR, ttft_p50=0.1, ttft_p95=0.5)
    sample(instance, ago - 3600, Resolution.HOUR, ttft_p50=0.3, ttft_p95=0.2)
    series = latency_series(instance.pk, NOW - timedelta(days=90), NOW, NOW)
    assert series.points == [(epoch - ago, 0.2, 0.5, None, None)]
