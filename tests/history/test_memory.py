"""Memory history points, as stored and re-aggregated in SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from console.history.memory import memory_series
from console.models import Gpu, Host, MemorySample, Resolution, Subject
from tests.history.conftest import NOW, SampleFactory


def test_raw_points_are_epoch_used_used_used(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(10, 40)
    gpu_sample(5, 60)
    series = memory_series(Subject.GPU, gpu.pk, NOW - timedelta(minutes=5), NOW, NOW)
    epoch = int(NOW.timestamp())
    assert series.resolution == Resolution.RAW
    assert series.points == [(epoch - 10, 40.0, 40, 40), (epoch - 5, 60.0, 60, 60)]


def test_points_outside_the_range_are_left_out(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(400, 1)
    gpu_sample(1, 2)
    series = memory_series(Subject.GPU, gpu.pk, NOW - timedelta(minutes=5), NOW, NOW)
    assert [p[1] for p in series.points] == [2.0]


def test_rollup_rows_give_their_min_and_max(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(3600, 50, Resolution.MINUTE, min_used_bytes=10, max_used_bytes=90)
    series = memory_series(Subject.GPU, gpu.pk, NOW - timedelta(days=1), NOW, NOW)
    assert series.resolution == Resolution.MINUTE
    assert [p[1:] for p in series.points] == [(50.0, 10, 90)]


def test_ninety_days_are_averaged_into_buckets_in_sql(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    # Two hour rows in one 2-hour bucket, one in the next.
    base = 7200 * 1000
    for ago, used, low, high in (
        (base, 10, 5, 20),
        (base - 3600, 30, 1, 40),
        (base - 7200, 7, 7, 7),
    ):
        gpu_sample(ago, used, Resolution.HOUR, min_used_bytes=low, max_used_bytes=high)
    series = memory_series(Subject.GPU, gpu.pk, NOW - timedelta(days=90), NOW, NOW)
    assert [p[1:] for p in series.points] == [(20.0, 1, 40), (7.0, 7, 7)]
    assert all(p[0] % 7200 == 0 for p in series.points)


def test_host_history_leaves_out_the_gpu_rows_of_that_host(
    host: Host, gpu_sample: SampleFactory
) -> None:
    gpu_sample(5, 99)
    MemorySample.objects.create(
        at=NOW - timedelta(seconds=4), subject=Subject.HOST, host=host, used_bytes=7
    )
    series = memory_series(Subject.HOST, host.pk, NOW - timedelta(minutes=1), NOW, NOW)
    assert [p[1] for p in series.points] == [7.0]
