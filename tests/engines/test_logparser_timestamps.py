"""Year-less vLLM timestamps get the right year, never one in the future."""

from __future__ import annotations

from datetime import date, datetime

from engines.logparser import parse_line
from engines.logparser.timestamps import log_timestamp

NOON = (12, 0, 0)


def test_given_year_is_used_even_for_a_future_date() -> None:
    stamp = log_timestamp(12, 31, NOON, year=2030, today=date(2026, 1, 5))
    assert stamp == datetime(2030, 12, 31, 12, 0, 0)


def test_date_up_to_today_takes_the_current_year() -> None:
    assert log_timestamp(11, 24, NOON, today=date(2026, 11, 24)) == datetime(2026, 11, 24, 12)


def test_date_after_today_takes_the_previous_year() -> None:
    assert log_timestamp(12, 31, NOON, today=date(2026, 1, 5)) == datetime(2025, 12, 31, 12)


def test_new_year_wrap_keeps_the_order_of_the_lines() -> None:
    today = date(2026, 1, 2)
    before = log_timestamp(12, 31, (23, 59, 58), today=today)
    after = log_timestamp(1, 1, (0, 0, 3), today=today)
    assert before is not None
    assert after is not None
    assert before < after


def test_february_29_takes_the_latest_leap_year() -> None:
    assert log_timestamp(2, 29, NOON, today=date(2026, 3, 1)) == datetime(2024, 2, 29, 12)


def test_impossible_month_gives_no_timestamp() -> None:
    assert log_timestamp(13, 1, NOON, today=date(2026, 3, 1)) is None


def test_impossible_day_in_a_given_year_gives_no_timestamp() -> None:
    assert log_timestamp(2, 30, NOON, year=2026) is None


def test_impossible_time_gives_no_timestamp() -> None:
    assert log_timestamp(3, 1, (25, 0, 0), year=2026) is None


def test_parsed_line_without_year_is_never_in_the_future() -> None:
    event = parse_line(
        "INFO 12-31 23:59:59 [executor_base.py:189] It took 1.0 seconds to fall asleep."
    )
    assert event is not None
    assert event.timestamp is not None
    assert event.timestamp <= datetime.now()


def test_year_beyond_any_calendar_gives_no_timestamp() -> None:
    assert log_timestamp(3, 1, NOON, year=10**20) is None
