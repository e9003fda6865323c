"""Give vLLM's year-less ``MM-DD HH:MM:SS`` timestamps a year (docs/vllm-behaviour.md §5.1)."""

from __future__ import annotations

from datetime import date, datetime

# How far back to look for a year in which the date exists (29 February).
_MAX_YEARS_BACK = 8

Clock = tuple[int, int, int]


def log_timestamp(
    month: int, day: int, clock: Clock, *, year: int | None = None, today: date | None = None
) -> datetime | None:
    """The timestamp of a record, or None when the fields are not a real date.

    With ``year`` the date is taken as printed. Without it the year is the most recent
    one that does not put the date after ``today`` (default: the local date), so a log
    read in January places its December lines in the previous year.
    """
    if year is not None:
        return _build(year, month, day, clock)
    if not 1 <= month <= 12:
        return None
    today = today or date.today()
    start = today.year if (month, day) <= (today.month, today.day) else today.year - 1
    for candidate in range(start, start - _MAX_YEARS_BACK, -1):
        stamp = _build(candidate, month, day, clock)
        if stamp is not None:
            return stamp
    return None


def _build(year: int, month: int, day: int, clock: Clock) -> datetime | None:
    try:
        return datetime(year, month, day, *clock)
    except (ValueError, OverflowError):  # no such date, or a year beyond a C int
        return None
