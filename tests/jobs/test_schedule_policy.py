"""Schedules run as beat runs them, at chosen clock times, against launched emulators.

Each round is ``run_schedules(now)`` with ``now`` set by the test; the jobs it asks for run
on the real control worker and the instance's emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from redis import Redis

from console.gates import redis_keys
from console.gates.config import GatewayConfig
from console.jobs.idle import run_idle_policy
from console.jobs.schedule_policy import run_schedules
from console.jobs.timetable import GRACE
from console.models import (
    AuditEntry,
    Instance,
    InstanceSchedule,
    InstanceState,
    Job,
    JobKind,
    JobState,
)
from tests.jobs.conftest import InstanceFactory, run_job, wait_finished

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 12, 7, tzinfo=PARIS)
WORKDAYS = {"days": ["mon-fri"], "start": "08:00", "end": "19:00"}
NIGHTLY_L2 = {"days": ["daily"], "at": "01:00", "level": 2}
ALL_DAY = {"days": ["daily"], "start": "00:00", "end": "24:00"}


def at(clock: str, seconds: int = 20) -> datetime:
    hours, minutes = clock.split(":")
    return MONDAY.replace(hour=int(hours), minute=int(minutes), second=seconds)


def launched(make_instance: InstanceFactory, name: str, **fields: object) -> Instance:
    instance = make_instance(name, **fields)
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    return instance


def schedule(instance: Instance, windows: list[object], sleeps: list[object]) -> None:
    InstanceSchedule.objects.create(
        instance=instance, timezone="Europe/Paris", awake_windows=windows, timed_sleeps=sleeps
    )


def round_at(now: datetime, instance: Instance) -> Job | None:
    """One beat round; the job it asked for, once finished."""
    before = set(Job.objects.filter(instance=instance).values_list("pk", flat=True))
    run_schedules(now)
    asked = Job.objects.filter(instance=instance).exclude(pk__in=before).first()
    if asked is not None:
        wait_finished(asked)
    instance.refresh_from_db()
    return asked


@pytest.fixture
def redis() -> Iterator[Redis]:
    config = GatewayConfig.from_settings()
    client = Redis.from_url(config.redis_url)
    yield client
    client.close()


def test_an_awake_windows_start_wakes_a_sleeping_instance(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "morning")
    run_job(instance, JobKind.SLEEP, level=1)
    schedule(instance, [WORKDAYS], [])
    job = round_at(at("08:00"), instance)
    assert job is not None
    assert (job.kind, job.state, job.author) == (JobKind.WAKE, JobState.SUCCEEDED, "schedule")
    assert instance.state == InstanceState.AWAKE
    audit = AuditEntry.objects.get(action="job.wake", target_id=str(instance.pk))
    assert audit.username == "schedule"
    assert audit.detail["rule"] == "awake mon,tue,wed,thu,fri 08:00-19:00"


def test_a_moment_is_acted_on_once(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "once")
    run_job(instance, JobKind.SLEEP, level=1)
    schedule(instance, [WORKDAYS], [])
    assert round_at(at("08:00"), instance) is not None
    run_job(instance, JobKind.SLEEP, level=1)  # an operator puts it back to sleep
    assert round_at(at("08:00", seconds=40), instance) is None
    assert instance.state == InstanceState.SLEEPING


def test_a_timed_sleep_puts_an_awake_instance_to_sleep_at_its_level(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "nightly")
    schedule(instance, [], [NIGHTLY_L2])
    job = round_at(at("01:00"), instance)
    assert job is not None
    assert (job.kind, job.params["level"], job.author) == (JobKind.SLEEP, 2, "schedule")
    assert (instance.state, instance.sleep_level) == (InstanceState.SLEEPING, 2)


def test_a_timed_sleep_deepens_a_level_1_sleeper_by_waking_it_first(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "deeper")
    run_job(instance, JobKind.SLEEP, level=1)
    schedule(instance, [], [NIGHTLY_L2])
    wake = round_at(at("01:00"), instance)
    sleep = round_at(at("01:01"), instance)
    assert wake is not None
    assert sleep is not None
    assert (wake.kind, sleep.kind) == (JobKind.WAKE, JobKind.SLEEP)
    assert (instance.state, instance.sleep_level) == (InstanceState.SLEEPING, 2)


def test_a_timed_sleep_waits_for_held_requests(
    make_instance: InstanceFactory, redis: Redis
) -> None:
    instance = launched(make_instance, "held")
    schedule(instance, [], [NIGHTLY_L2])
    config = GatewayConfig.from_settings()
    held = redis_keys.held(config.redis_prefix, instance.served_model_name)
    redis.zadd(held, {"request-1": 1e12})
    try:
        assert round_at(at("01:00"), instance) is None
        assert instance.state == InstanceState.AWAKE
    finally:
        redis.delete(held)
    job = round_at(at("01:02"), instance)
    assert job is not None
    assert instance.state == InstanceState.SLEEPING


def test_a_timed_sleep_spares_a_pinned_instance(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "pinned", pinned_awake=True)
    schedule(instance, [], [NIGHTLY_L2])
    assert round_at(at("01:00"), instance) is None
    assert instance.state == InstanceState.AWAKE
    assert InstanceSchedule.objects.get(instance=instance).handled_until == at("01:00", 0)


def test_a_moment_missed_by_more_than_the_grace_is_not_acted_on(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "missed")
    schedule(instance, [], [NIGHTLY_L2])
    late = at("01:00", 0) + GRACE + timedelta(seconds=1)
    assert round_at(late, instance) is None
    assert instance.state == InstanceState.AWAKE


def test_inside_an_awake_window_the_idle_ladder_leaves_an_instance_awake(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "kept", idle_sleep_l1_seconds=1)
    schedule(instance, [ALL_DAY], [])
    instance.state_changed_at = instance.state_changed_at - timedelta(hours=1)
    instance.save(update_fields=["state_changed_at"])
    assert run_idle_policy() == []
    InstanceSchedule.objects.filter(instance=instance).delete()
    assert run_idle_policy() == ["kept: sleep level 1"]
