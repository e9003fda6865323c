"""Schedules read as a timetable: parsing and checking them, and what is due when.

Times are minutes of the day in the schedule's time zone; an awake window is
``[start, end)`` on each of its days (``end`` may be 24:00) and never crosses midnight
(two windows do that); a timed sleep happens at ``at`` on each of its days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.models.schedules import InstanceSchedule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {"daily": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:]}
MAX_ENTRIES = 50
# A window start or timed sleep the beat missed by more than this (beat down, a long
# outage) is skipped rather than acted on late; a sleep waiting for held requests to be
# served retries on every round until then.
GRACE = timedelta(minutes=15)
DAY_MINUTES = 24 * 60


class ScheduleError(ValueError):
    """A schedule that cannot be used; ``errors`` maps each field to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = dict(errors)


@dataclass(frozen=True)
class AwakeWindow:
    days: tuple[int, ...]
    start: int
    end: int

    def describe(self) -> str:
        return f"awake {day_names(self.days)} {clock(self.start)}-{clock(self.end)}"

    def stored(self) -> dict[str, Any]:
        return {"days": [DAYS[d] for d in self.days], "start": clock(self.start),
                "end": clock(self.end)}  # fmt: skip


@dataclass(frozen=True)
class TimedSleep:
    days: tuple[int, ...]
    at: int
    level: int

    def describe(self) -> str:
        return f"sleep level {self.level} {day_names(self.days)} at {clock(self.at)}"

    def stored(self) -> dict[str, Any]:
        return {"days": [DAYS[d] for d in self.days], "at": clock(self.at), "level": self.level}


@dataclass(frozen=True)
class Occurrence:
    """One window start (wake) or timed sleep, at a moment."""

    at: datetime
    action: Literal["wake", "sleep"]
    level: int
    rule: str


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_names(days: Iterable[int]) -> str:
    return ",".join(DAYS[d] for d in days)


def minutes_of(text: Any, *, allow_end_of_day: bool = False) -> int:
    """``"08:30"`` -> 510; ``"24:00"`` only where a window may end at midnight."""
    hours, sep, mins = str(text).strip().partition(":")
    if not (sep and hours.isdigit() and mins.isdigit() and len(mins) == 2):
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    value = int(hours) * 60 + int(mins)
    if int(mins) > 59 or value > (DAY_MINUTES if allow_end_of_day else DAY_MINUTES - 1):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return value


def days_of(value: Any) -> tuple[int, ...]:
    """``["mon-fri"]``, ``["sat", "sun"]``, ``["daily"]`` -> sorted day numbers."""
    tokens = value if isinstance(value, list) else [value]
    found: set[int] = set()
    for token in (str(item).strip().lower() for item in tokens):
        first, sep, last = token.partition("-")
        if token in DAY_SETS:
            found.update(DAYS.index(day) for day in DAY_SETS[token])
        elif sep and first in DAYS and last in DAYS and DAYS.index(first) <= DAYS.index(last):
            found.update(range(DAYS.index(first), DAYS.index(last) + 1))
        elif token in DAYS:
            found.add(DAYS.index(token))
        else:
            raise ValueError(f"unknown day {token!r} (use {', '.join(DAYS)}, a range such as "
                             "mon-fri, daily, weekdays or weekends)")  # fmt: skip
    if not found:
        raise ValueError("no days given")
    return tuple(sorted(found))


def _entry(raw: Any, fields: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"must be an object with {', '.join(fields)}")
    unknown = set(raw) - set(fields)
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r} (fields: {', '.join(fields)})")
    return raw


def parse_window(raw: Any) -> AwakeWindow:
    entry = _entry(raw, ("days", "start", "end"))
    start = minutes_of(entry.get("start"))
    end = minutes_of(entry.get("end"), allow_end_of_day=True)
    if end <= start:
        raise ValueError(f"ends at {clock(end)}, not after it starts ({clock(start)}); split a "
                         "window across midnight in two (22:00-24:00 and 00:00-06:00)")  # fmt: skip
    return AwakeWindow(days_of(entry.get("days")), start, end)


def parse_sleep(raw: Any) -> TimedSleep:
    entry = _entry(raw, ("days", "at", "level"))
    level = entry.get("level", 1)
    if level not in (1, 2) or isinstance(level, bool):
        raise ValueError(f"level {level!r} is not a sleep level (1 or 2)")
    return TimedSleep(days_of(entry.get("days")), minutes_of(entry.get("at")), int(level))


def _parsed(raws: Any, parse: Any, field: str, errors: dict[str, list[str]]) -> list[Any]:
    if not isinstance(raws, list) or len(raws) > MAX_ENTRIES:
        errors[field] = [f"must be a list of at most {MAX_ENTRIES} entries"]
        return []
    parsed = []
    for number, raw in enumerate(raws, start=1):
        try:
            parsed.append(parse(raw))
        except ValueError as bad:
            errors.setdefault(field, []).append(f"entry {number}: {bad}")
    return parsed


def _overlaps(windows: list[AwakeWindow]) -> list[str]:
    found = []
    for i, one in enumerate(windows):
        for j, other in enumerate(windows[i + 1 :], start=i + 2):
            shared = set(one.days) & set(other.days)
            if shared and one.start < other.end and other.start < one.end:
                days = day_names(sorted(shared))
                found.append(f"awake windows {i + 1} and {j} overlap on {days}")
    return found


def _sleep_clashes(windows: list[AwakeWindow], sleeps: list[TimedSleep]) -> list[str]:
    """Timed sleeps inside a window (undone at once by its idle rule) or at the same moment."""
    found = []
    for i, sleep in enumerate(sleeps):
        for j, window in enumerate(windows):
            shared = set(sleep.days) & set(window.days)
            if shared and window.start <= sleep.at < window.end:
                found.append(f"timed sleep {i + 1} ({clock(sleep.at)}) falls inside awake "
                             f"window {j + 1} on {day_names(sorted(shared))}")  # fmt: skip
        for j, later in enumerate(sleeps[i + 1 :], start=i + 2):
            if set(sleep.days) & set(later.days) and sleep.at == later.at:
                found.append(f"timed sleeps {i + 1} and {j} are both at {clock(sleep.at)}")
    return found


@dataclass(frozen=True)
class Timetable:
    """A parsed, consistent schedule."""

    zone: ZoneInfo
    windows: tuple[AwakeWindow, ...]
    sleeps: tuple[TimedSleep, ...]

    def stored(self) -> dict[str, Any]:
        return {"timezone": self.zone.key,
                "awake_windows": [window.stored() for window in self.windows],
                "timed_sleeps": [sleep.stored() for sleep in self.sleeps]}  # fmt: skip

    def keeps_awake(self, now: datetime) -> bool:
        """True inside one of the awake windows."""
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in window.days and window.start <= minute < window.end
                   for window in self.windows)  # fmt: skip

    def occurrences(self, since: datetime, until: datetime) -> list[Occurrence]:
        """Window starts and timed sleeps in ``(since, until]``, oldest first."""
        first = since.astimezone(self.zone).date()
        days = [first + timedelta(days=n)
                for n in range((until.astimezone(self.zone).date() - first).days + 1)]  # fmt: skip
        found = [
            Occurrence(self._at(day, minute), action, level, rule)
            for day in days
            for weekdays, minute, action, level, rule in self._events()
            if day.weekday() in weekdays
        ]
        return sorted((o for o in found if since < o.at <= until), key=lambda o: o.at)

    def due(self, now: datetime, handled_until: datetime | None) -> Occurrence | None:
        """The latest occurrence not yet handled and not older than ``GRACE``."""
        since = max(handled_until or now - GRACE, now - GRACE)
        found = self.occurrences(since, now)
        return found[-1] if found else None

    def _at(self, day: Any, minute: int) -> datetime:
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)

    def _events(self) -> list[tuple[tuple[int, ...], int, Literal["wake", "sleep"], int, str]]:
        return [(w.days, w.start, "wake", 0, w.describe()) for w in self.windows] + [
            (s.days, s.at, "sleep", s.level, s.describe()) for s in self.sleeps
        ]


def parse(zone: Any, windows: Any, sleeps: Any) -> Timetable:
    """A timetable from JSON-like values; ``ScheduleError`` with every problem found."""
    errors: dict[str, list[str]] = {}
    try:
        tz = ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = [f"unknown time zone {zone!r} (an IANA name such as Europe/Paris)"]
    parsed_windows = _parsed(windows, parse_window, "awake_windows", errors)
    parsed_sleeps = _parsed(sleeps, parse_sleep, "timed_sleeps", errors)
    if not errors:
        clashes = _overlaps(parsed_windows) + _sleep_clashes(parsed_windows, parsed_sleeps)
        if clashes:
            errors["non_field_errors"] = clashes
    if errors:
        raise ScheduleError(errors)
    return Timetable(tz, tuple(parsed_windows), tuple(parsed_sleeps))


def of(schedule: InstanceSchedule) -> Timetable:
    return parse(schedule.timezone, schedule.awake_windows, schedule.timed_sleeps)


def kept_awake_ids(now: datetime) -> set[int]:
    """Instances inside an awake window now: the idle ladder leaves them alone."""
    schedules = InstanceSchedule.objects.exclude(awake_windows=[])
    return {schedule.instance_id for schedule in schedules if of(schedule).keeps_awake(now)}
