"""Rollups into minutes and hours, and retention that never loses what was not rolled up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from console.history.rollup import maintain, mean_extra, purge, rollup
from console.models import Gpu, MemorySample, Resolution
from console.tasks import history_rollup
from tests.history.conftest import NOW, SampleFactory

MINUTE = Resolution.MINUTE


def minutes(gpu: Gpu) -> list[tuple[float, int, int | None, int | None]]:
    rows = MemorySample.objects.filter(gpu=gpu, resolution=MINUTE).order_by("at")
    return [(r.at.timestamp(), r.used_bytes, r.min_used_bytes, r.max_used_bytes) for r in rows]


def test_a_complete_minute_becomes_one_row_with_min_avg_max(
    gpu: Gpu, gpu_sample: SampleFactory
) -> None:
    for ago, used in ((110, 10), (100, 20), (65, 60)):  # 11:58:10 .. 11:58:55
        gpu_sample(ago, used)
    assert rollup(MINUTE, NOW) == 1
    assert minutes(gpu) == [((NOW - timedelta(minutes=2)).timestamp(), 30, 10, 60)]


def test_the_current_minute_is_left_for_a_later_run(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(30, 10)
    assert rollup(MINUTE, NOW) == 0


def test_a_second_run_writes_nothing_again(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(100, 10)
    rollup(MINUTE, NOW)
    assert rollup(MINUTE, NOW) == 0
    assert len(minutes(gpu)) == 1


def test_a_later_run_rolls_the_minutes_that_came_since(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(200, 10)
    rollup(MINUTE, NOW - timedelta(minutes=2))
    gpu_sample(100, 30)
    assert rollup(MINUTE, NOW) == 1
    assert [row[1] for row in minutes(gpu)] == [10, 30]


def test_hours_are_rolled_from_minutes(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(7200, 10, MINUTE, min_used_bytes=1, max_used_bytes=11)
    gpu_sample(7000, 30, MINUTE, min_used_bytes=5, max_used_bytes=99)
    assert rollup(Resolution.HOUR, NOW) == 1
    row = MemorySample.objects.get(resolution=Resolution.HOUR)
    assert (row.used_bytes, row.min_used_bytes, row.max_used_bytes) == (20, 1, 99)


def test_extra_numbers_are_averaged_and_process_maps_split_over_all_samples() -> None:
    merged = mean_extra([{"kv": 0.2, "processes": {"a": 10}}, {"kv": 0.4, "processes": {"b": 4}}])
    assert merged == {"kv": 0.30000000000000004, "processes": {"a": 5, "b": 2}}


def test_raw_rows_past_retention_are_deleted_once_rolled_up(
    gpu: Gpu, gpu_sample: SampleFactory
) -> None:
    old = gpu_sample(49 * 3600, 10)
    fresh = gpu_sample(100, 20)
    rollup(MINUTE, NOW - timedelta(hours=48, minutes=58))
    rollup(MINUTE, NOW)
    purge(NOW)
    assert list(MemorySample.objects.filter(resolution=Resolution.RAW)) == [fresh]
    assert not MemorySample.objects.filter(pk=old.pk).exists()


def test_raw_rows_not_rolled_up_yet_are_kept(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    old = gpu_sample(49 * 3600, 10)
    purge(NOW)
    assert MemorySample.objects.filter(pk=old.pk).exists()


def test_hour_rows_are_kept_400_days(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    kept = gpu_sample(399 * 86400, 1, Resolution.HOUR)
    gpu_sample(401 * 86400, 1, Resolution.HOUR)
    purge(NOW)
    assert list(MemorySample.objects.filter(resolution=Resolution.HOUR)) == [kept]


def test_maintain_rolls_minutes_then_hours(gpu: Gpu, gpu_sample: SampleFactory) -> None:
    gpu_sample(2 * 3600, 10)
    assert maintain(NOW) == {
        "rolled_1m": 1, "rolled_1h": 1, "deleted_raw": 0, "deleted_1m": 0, "deleted_1h": 0,
    }  # fmt: skip


def test_the_beat_task_rolls_up(gpu: Gpu) -> None:
    MemorySample.objects.create(
        at=timezone.now() - timedelta(hours=2), subject="gpu", host=gpu.host, gpu=gpu,
        used_bytes=5,
    )  # fmt: skip
    history_rollup()
    assert MemorySample.objects.filter(resolution=MINUTE).count() == 1


def test_the_beat_task_runs_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["history-rollup"]
    assert (entry["task"], entry["schedule"]) == (history_rollup.name, 60.0)
