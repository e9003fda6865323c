"""The resolution a chart range is read at: at most 2,000 points, from rows still kept."""

from __future__ import annotations

from datetime import timedelta

from console.history.resolution import Choice, choose
from console.models import Resolution
from tests.history.conftest import NOW


def last(span: timedelta) -> Choice:
    return choose(NOW - span, NOW, NOW)


def test_a_half_hour_is_read_raw() -> None:
    assert last(timedelta(minutes=30)) == Choice(Resolution.RAW, None)


def test_an_hour_is_raw_rows_averaged_into_two_second_buckets() -> None:
    assert last(timedelta(hours=1)) == Choice(Resolution.RAW, 2)


def test_six_hours_are_too_many_raw_rows_to_scan_so_minutes() -> None:
    assert last(timedelta(hours=6)) == Choice(Resolution.MINUTE, None)


def test_two_days_are_minutes_averaged_into_two_minute_buckets() -> None:
    assert last(timedelta(days=2)) == Choice(Resolution.MINUTE, 120)


def test_a_day_is_read_in_minutes() -> None:
    assert last(timedelta(days=1)) == Choice(Resolution.MINUTE, None)


def test_thirty_days_are_read_in_hours() -> None:
    assert last(timedelta(days=30)) == Choice(Resolution.HOUR, None)


def test_ninety_days_are_hours_averaged_into_two_hour_buckets() -> None:
    assert last(timedelta(days=90)) == Choice(Resolution.HOUR, 7200)


def test_a_short_range_older_than_raw_retention_is_read_in_minutes() -> None:
    start = NOW - timedelta(days=3)
    assert choose(start, start + timedelta(minutes=10), NOW) == Choice(Resolution.MINUTE, None)


def test_a_range_older_than_minute_retention_is_read_in_hours() -> None:
    start = NOW - timedelta(days=40)
    assert choose(start, start + timedelta(hours=2), NOW) == Choice(Resolution.HOUR, None)
