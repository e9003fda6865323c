"""What a job's steps' log lines add up to (no database: events as the agent stores them)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from console.jobs.evidence import Quiet, gpu_used_bytes, job_figures, parsed, wake_columns
from console.models import EngineEvent, Gpu, Host, Instance, Job, JobKind, MemorySample, Subject
from engines.logparser import EventKind, WakeFigures


def test_a_level_two_wake_counts_the_reload_its_line_reports() -> None:
    figures = WakeFigures(seconds=0.35, reload_seconds=2.09)
    step = {"calls": {"reload_weights": 2.31}}
    assert wake_columns(figures, step) == {"engine_seconds": 2.44, "reload_seconds": 2.09}


def test_without_a_reload_line_the_reload_calls_seconds_stand_in() -> None:
    figures = WakeFigures(seconds=0.35, reload_seconds=None)
    assert wake_columns(figures, {"calls": {"reload_weights": 2.0}})["engine_seconds"] == 2.35


def test_stored_rows_are_read_as_the_parsers_events() -> None:
    rows = [
        EngineEvent(kind="wake", data={"event": "wake", "seconds": 0.05, "tags": ["weights"]}),
        EngineEvent(kind="engine_died", data={}),
    ]
    assert [(e.event, e.seconds, e.tags) for e in parsed(rows)] == [
        (EventKind.WAKE, 0.05, ("weights",))
    ]


def test_still_in_use_is_the_devices_after_the_last_sleep_not_a_sum() -> None:
    steps = [
        {"step": "sleep", "engine_seconds": 0.3, "freed_gib": 76.0, "still_in_use_gib": 3.65},
        {"step": "wake", "engine_seconds": 0.4},
    ]
    figures = job_figures(steps)
    assert figures["still_in_use_gib"] == 3.65
    assert figures["engine_seconds"] == 0.7
    assert figures["freed_gib"] == 76.0


@pytest.fixture
def on_gpu(db: None) -> Instance:
    host = Host.objects.create(name="quiet-host")
    gpu = Gpu.objects.create(host=host, index=0, total_bytes=80 << 30)
    instance = Instance.objects.create(name="quiet", served_model_name="m/q",
                                       base_url="http://127.0.0.1:9")  # fmt: skip
    instance.gpus.set([gpu])
    return instance


def sample_at(instance: Instance, at: datetime, used: int) -> None:
    gpu = instance.gpus.get()
    MemorySample.objects.create(at=at, subject=Subject.GPU, host=gpu.host, gpu=gpu,
                                used_bytes=used, total_bytes=gpu.total_bytes)  # fmt: skip


def test_a_sample_taken_while_another_move_was_under_way_is_not_the_before(
    on_gpu: Instance,
) -> None:
    now = timezone.now()
    sample_at(on_gpu, now - timedelta(seconds=1.0), 9 << 30)  # mid-way through the last switch
    quiet = Quiet(start=now - timedelta(seconds=0.5), end=None)  # it ended then
    assert gpu_used_bytes(on_gpu, before=now, quiet=quiet) is None
    sample_at(on_gpu, now - timedelta(seconds=0.2), 80 << 30)
    assert gpu_used_bytes(on_gpu, before=now, quiet=quiet) == 80 << 30


def test_a_sample_taken_after_the_next_move_began_is_not_the_after(on_gpu: Instance) -> None:
    now = timezone.now()
    sample_at(on_gpu, now + timedelta(seconds=0.3), 4 << 30)
    quiet = Quiet(start=None, end=now + timedelta(seconds=0.1))  # the next step began
    assert gpu_used_bytes(on_gpu, after=now, quiet=quiet, deadline=0) is None
    assert gpu_used_bytes(on_gpu, after=now, deadline=0) == 4 << 30


def test_a_job_that_starts_after_the_evidence_is_gathered_still_ends_the_after_window(
    on_gpu: Instance,
) -> None:
    # The wake's evidence is gathered before the next switch exists; its first sample after
    # the call was read once that switch had put the engine back to sleep.
    ended = timezone.now()
    quiet = Quiet(start=None, end=None, others=Job.objects.all(), ended=ended)
    sample_at(on_gpu, ended + timedelta(seconds=0.9), 4 << 30)
    assert gpu_used_bytes(on_gpu, after=ended, quiet=quiet, deadline=0) == 4 << 30
    later = ended + timedelta(seconds=0.5)
    Job.objects.create(instance=on_gpu, kind=JobKind.SWITCH, started_at=later)
    assert gpu_used_bytes(on_gpu, after=ended, quiet=quiet, deadline=0) is None
