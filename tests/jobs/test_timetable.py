"""Schedules as a timetable: what is refused, when an instance is kept awake, what is due."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from console.jobs.timetable import GRACE, ScheduleError, Timetable, kept_awake_ids, parse
from console.models import InstanceSchedule
from tests.console.conftest import create_instance

PARIS = ZoneInfo("Europe/Paris")
WORKDAYS = {"days": ["mon-fri"], "start": "08:00", "end": "19:00"}
NIGHTLY_L2 = {"days": ["daily"], "at": "01:00", "level": 2}
# 2026-12-07 is a Monday.
MONDAY = datetime(2026, 12, 7, tzinfo=PARIS)


def at(day: datetime, clock: str) -> datetime:
    hours, minutes = clock.split(":")
    return day.replace(hour=int(hours), minute=int(minutes))


def table(windows: list[Any] | None = None, sleeps: list[Any] | None = None) -> Timetable:
    return parse("Europe/Paris", windows or [], sleeps or [])


def errors_of(zone: str, windows: list[Any], sleeps: list[Any]) -> dict[str, list[str]]:
    with pytest.raises(ScheduleError) as refused:
        parse(zone, windows, sleeps)
    return refused.value.errors


def test_a_schedule_is_stored_with_days_spelled_out() -> None:
    stored = table([WORKDAYS], [NIGHTLY_L2]).stored()
    assert stored["awake_windows"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "19:00"}
    ]
    assert stored["timed_sleeps"][0]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"days": ["mon"], "start": "8h", "end": "19:00"}, "'8h' is not a time of day"),
        ({"days": ["mon"], "start": "08:00", "end": "25:00"}, "'25:00' is not a time of day"),
        ({"days": ["mon"], "start": "08:61", "end": "19:00"}, "'08:61' is not a time of day"),
        ({"days": ["funday"], "start": "08:00", "end": "19:00"}, "unknown day 'funday'"),
        ({"days": ["fri-mon"], "start": "08:00", "end": "19:00"}, "unknown day 'fri-mon'"),
        ({"days": [], "start": "08:00", "end": "19:00"}, "no days given"),
        ({"days": ["mon"], "start": "22:00", "end": "06:00"}, "split a window across midnight"),
        ({"days": ["mon"], "start": "08:00", "end": "19:00", "x": 1}, "unknown field 'x'"),
    ],
)
def test_a_bad_awake_window_is_refused_with_the_reason(window: Any, message: str) -> None:
    (error,) = errors_of("UTC", [window], [])["awake_windows"]
    assert error.startswith("entry 1: ")
    assert message in error


@pytest.mark.parametrize(
    ("sleep", "message"),
    [
        ({"days": ["daily"], "at": "01:00", "level": 3}, "level 3 is not a sleep level"),
        ({"days": ["daily"], "at": "24:00", "level": 2}, "'24:00' is not a time of day"),
        ("daily 01:00", "must be an object"),
    ],
)
def test_a_bad_timed_sleep_is_refused_with_the_reason(sleep: Any, message: str) -> None:
    assert message in errors_of("UTC", [], [sleep])["timed_sleeps"][0]


def test_an_unknown_time_zone_is_refused() -> None:
    assert "unknown time zone 'Mars/Olympus'" in errors_of("Mars/Olympus", [], [])["timezone"][0]


def test_overlapping_awake_windows_are_refused() -> None:
    weekend = {"days": ["fri", "sat"], "start": "18:00", "end": "23:00"}
    (error,) = errors_of("UTC", [WORKDAYS, weekend], [])["non_field_errors"]
    assert error == "awake windows 1 and 2 overlap on fri"


def test_windows_that_only_touch_do_not_overlap() -> None:
    evening = {"days": ["mon-fri"], "start": "19:00", "end": "24:00"}
    assert len(table([WORKDAYS, evening]).windows) == 2


def test_a_timed_sleep_inside_an_awake_window_is_refused() -> None:
    lunch = {"days": ["wed"], "at": "12:30", "level": 1}
    (error,) = errors_of("UTC", [WORKDAYS], [lunch])["non_field_errors"]
    assert error == "timed sleep 1 (12:30) falls inside awake window 1 on wed"


def test_two_timed_sleeps_at_the_same_moment_are_refused() -> None:
    again = {"days": ["sun"], "at": "01:00", "level": 1}
    assert "both at 01:00" in errors_of("UTC", [], [NIGHTLY_L2, again])["non_field_errors"][0]


def test_an_instance_is_kept_awake_inside_a_window_in_the_schedules_time_zone() -> None:
    timetable = table([WORKDAYS])
    assert timetable.keeps_awake(at(MONDAY, "08:00"))
    assert timetable.keeps_awake(at(MONDAY, "18:59"))
    assert not timetable.keeps_awake(at(MONDAY, "19:00"))
    assert not timetable.keeps_awake(at(MONDAY, "07:59"))
    # 08:30 in Paris is 07:30 UTC: the same moment, read in the schedule's zone.
    assert timetable.keeps_awake(at(MONDAY, "08:30").astimezone(ZoneInfo("UTC")))


def test_an_instance_is_not_kept_awake_on_a_day_outside_the_window() -> None:
    saturday = MONDAY + timedelta(days=5)
    assert not table([WORKDAYS]).keeps_awake(at(saturday, "10:00"))


def test_a_window_start_is_due_as_a_wake_just_after_it() -> None:
    due = table([WORKDAYS]).due(at(MONDAY, "08:00") + timedelta(seconds=20), None)
    assert due is not None
    assert (due.action, due.at) == ("wake", at(MONDAY, "08:00"))


def test_a_timed_sleep_is_due_with_its_level() -> None:
    due = table(sleeps=[NIGHTLY_L2]).due(at(MONDAY, "01:05"), None)
    assert due is not None
    assert (due.action, due.level) == ("sleep", 2)


def test_a_handled_moment_is_not_due_again() -> None:
    nightly = table(sleeps=[NIGHTLY_L2])
    assert nightly.due(at(MONDAY, "01:05"), handled_until=at(MONDAY, "01:00")) is None


def test_a_moment_missed_by_more_than_the_grace_is_skipped() -> None:
    late = at(MONDAY, "01:00") + GRACE + timedelta(seconds=1)
    assert table(sleeps=[NIGHTLY_L2]).due(late, None) is None


def test_occurrences_follow_summer_time() -> None:
    # Paris moves to summer time on 2027-03-28: 01:00 local is 00:00 UTC before, 23:00 after.
    before = datetime(2027, 3, 27, 12, tzinfo=PARIS)
    found = table(sleeps=[NIGHTLY_L2]).occurrences(before, before + timedelta(days=2))
    assert [o.at.astimezone(ZoneInfo("UTC")).hour for o in found] == [0, 23]


@pytest.mark.django_db
def test_only_instances_inside_an_awake_window_are_kept_awake() -> None:
    inside, outside, sleeps_only = (create_instance(name=n) for n in ("in", "out", "sleeps"))
    InstanceSchedule.objects.create(instance=inside, timezone="Europe/Paris",
                                    awake_windows=[WORKDAYS])  # fmt: skip
    InstanceSchedule.objects.create(instance=outside, awake_windows=[
        {"days": ["sat"], "start": "08:00", "end": "19:00"}])  # fmt: skip
    InstanceSchedule.objects.create(instance=sleeps_only, timed_sleeps=[NIGHTLY_L2])
    assert kept_awake_ids(at(MONDAY, "09:00")) == {inside.pk}
