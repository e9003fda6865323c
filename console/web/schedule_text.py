"""An instance's schedule as the page's form writes it: one rule a line.

Awake windows: ``mon-fri 08:00-19:00``; timed sleeps: ``daily 01:00 level 2``. Days are
names, ranges (``mon-fri``), ``daily``, ``weekdays`` or ``weekends``, joined by commas.
The API's checks (``console.jobs.timetable``) then judge the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.api.schedules import schedule_document
from console.models import Instance

WINDOW_FORMAT = "DAYS HH:MM-HH:MM (for example mon-fri 08:00-19:00)"
SLEEP_FORMAT = "DAYS HH:MM level N (for example daily 01:00 level 2)"


class LineError(ValueError):
    """A line that is not in the form's format; the message names the line."""


def _lines(text: str) -> list[tuple[int, list[str]]]:
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def windows_from_text(text: str) -> list[dict[str, Any]]:
    windows = []
    for number, words in _lines(text):
        start, sep, end = words[-1].partition("-") if len(words) == 2 else ("", "", "")
        if not sep:
            raise LineError(f"line {number}: write {WINDOW_FORMAT}")
        windows.append({"days": words[0].split(","), "start": start, "end": end})
    return windows


def sleeps_from_text(text: str) -> list[dict[str, Any]]:
    sleeps = []
    for number, words in _lines(text):
        if len(words) != 4 or words[2].lower() != "level" or not words[3].isdigit():
            raise LineError(f"line {number}: write {SLEEP_FORMAT}")
        sleeps.append({"days": words[0].split(","), "at": words[1], "level": int(words[3])})
    return sleeps


def windows_text(windows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{','.join(w['days'])} {w['start']}-{w['end']}" for w in windows)


def sleeps_text(sleeps: list[dict[str, Any]]) -> str:
    return "\n".join(f"{','.join(s['days'])} {s['at']} level {s['level']}" for s in sleeps)


def schedule_form_values(instance: Instance, now: datetime) -> dict[str, Any]:
    """The schedule as the instance page shows and edits it."""
    document = schedule_document(instance, now)
    return {
        **document,
        "awake_windows_text": windows_text(document["awake_windows"]),
        "timed_sleeps_text": sleeps_text(document["timed_sleeps"]),
    }
