"""Sleep/wake timings and wake efficiency against the link's bandwidth."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.history.timings import efficiency, timings
from console.models import Instance, Job, JobKind, JobState
from tests.history.conftest import NOW


def finished(instance: Instance, kind: JobKind, ago_s: int, **fields: object) -> Job:
    fields.setdefault("state", JobState.SUCCEEDED)
    return Job.objects.create(
        instance=instance, kind=kind, finished_at=NOW - timedelta(seconds=ago_s), **fields
    )


def test_the_h100_wake_is_at_the_link_limit() -> None:
    # 0.11.0 on an H100: 75.16 GiB woken in 1.54 s, against a 52 GB/s link.
    assert efficiency(75.16, 1.54, 52.0) == pytest.approx(1.008, abs=0.001)


def test_level_one_wake_efficiency_uses_what_its_sleep_backed_up(instance: Instance) -> None:
    finished(instance, JobKind.SLEEP, 60, params={"level": 1}, backed_up_gib=10.0)
    finished(instance, JobKind.WAKE, 30, engine_seconds=0.5)
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [(r["kind"], r["level"]) for r in rows] == [("sleep", 1), ("wake", 1)]
    assert rows[1]["wake_efficiency"] == efficiency(10.0, 0.5, 52.0)


def test_level_two_wake_has_no_link_efficiency(instance: Instance) -> None:
    finished(instance, JobKind.SLEEP, 60, params={"level": 2}, freed_gib=12.0)
    finished(instance, JobKind.WAKE, 30, engine_seconds=3.0)
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert rows[1]["wake_efficiency"] is None


def test_a_wake_at_the_start_of_the_range_uses_the_sleep_before_it(instance: Instance) -> None:
    finished(instance, JobKind.SLEEP, 7200, params={"level": 1}, backed_up_gib=4.0)
    finished(instance, JobKind.WAKE, 30, engine_seconds=0.1)
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [r["kind"] for r in rows] == ["wake"]
    assert rows[0]["wake_efficiency"] == efficiency(4.0, 0.1, 52.0)


def test_failed_jobs_are_left_out(instance: Instance) -> None:
    finished(instance, JobKind.SLEEP, 60, state=JobState.FAILED)
    assert timings(instance.pk, NOW - timedelta(hours=1), NOW) == []


def switch(target: Instance, ago_s: int, steps: list[dict[str, object]], **params: object) -> Job:
    """A succeeded switch whose steps ended ``ago_s`` seconds before NOW, in order."""
    at = (NOW - timedelta(seconds=ago_s)).isoformat()
    return finished(
        target, JobKind.SWITCH, ago_s, params=params,
        outcome_detail={"steps": [{"call_ended_at": at, **step} for step in steps]},
    )  # fmt: skip


def test_a_switch_times_each_of_its_steps_on_the_instance_it_moved(
    instance: Instance, other: Instance
) -> None:
    job = switch(other, 60, [
        {"step": "sleep", "instance_id": instance.pk, "level": 1, "engine_seconds": 0.3,
         "call_seconds": 0.35, "backed_up_gib": 8.0},
        {"step": "wake", "instance_id": other.pk, "from_level": 1, "engine_seconds": 0.4},
    ])  # fmt: skip
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [(r["job_id"], r["kind"], r["via"], r["level"]) for r in rows] == [
        (job.pk, "sleep", "switch", 1)
    ]
    assert (rows[0]["engine_seconds"], rows[0]["wall_seconds"]) == (0.3, 0.35)


def test_a_gateway_wake_is_timed_with_the_efficiency_of_the_sleep_before_it(
    instance: Instance, other: Instance
) -> None:
    switch(other, 120, [{"step": "sleep", "instance_id": instance.pk, "level": 1,
                         "backed_up_gib": 10.0}])  # fmt: skip
    switch(instance, 30, [{"step": "wake", "instance_id": instance.pk, "from_level": 1,
                           "engine_seconds": 0.5}], via="gateway")  # fmt: skip
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [(r["kind"], r["via"]) for r in rows] == [("sleep", "switch"), ("wake", "gateway")]
    assert rows[1]["wake_efficiency"] == efficiency(10.0, 0.5, 52.0)


def test_a_wake_after_a_switch_before_the_range_uses_that_switchs_sleep(
    instance: Instance, other: Instance
) -> None:
    switch(other, 7200, [{"step": "sleep", "instance_id": instance.pk, "level": 1,
                          "backed_up_gib": 4.0}])  # fmt: skip
    finished(instance, JobKind.WAKE, 30, engine_seconds=0.1)
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [r["kind"] for r in rows] == ["wake"]
    assert rows[0]["wake_efficiency"] == efficiency(4.0, 0.1, 52.0)


def test_a_switch_that_did_not_move_the_instance_adds_nothing(
    instance: Instance, other: Instance
) -> None:
    switch(other, 60, [{"step": "wake", "instance_id": other.pk, "engine_seconds": 0.4}])
    assert timings(instance.pk, NOW - timedelta(hours=1), NOW) == []


def test_steps_are_in_time_order_across_jobs(instance: Instance, other: Instance) -> None:
    finished(instance, JobKind.WAKE, 30, engine_seconds=0.1)
    switch(other, 90, [{"step": "sleep", "instance_id": instance.pk, "level": 2}])
    rows = timings(instance.pk, NOW - timedelta(hours=1), NOW)
    assert [(r["kind"], r["level"]) for r in rows] == [("sleep", 2), ("wake", 2)]
