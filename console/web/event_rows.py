"""Engine events as the instance page lists them.

The agent stores a parsed log line's figures in ``data`` (the parser's JSON) and the raw
line in ``message``; vLLM colours its log prefix with ANSI escapes, which a page shows as
text, so they are dropped here (``static/js/instance.js`` does the same for live lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from console.models import EngineEvent

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(text: str) -> str:
    """``text`` without terminal colour codes."""
    return ANSI_ESCAPE.sub("", text)


def _figure(event: EngineEvent, name: str) -> float | None:
    value = getattr(event, name)
    if value is None:
        value = event.data.get(name)
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class EventRow:
    """One engine event: when, what, its seconds and GiB freed if it has them, its line."""

    at: datetime | None
    kind: str
    seconds: float | None
    freed_gib: float | None
    message: str

    @classmethod
    def of(cls, event: EngineEvent) -> EventRow:
        return cls(
            at=event.at,
            kind=event.kind,
            seconds=_figure(event, "seconds"),
            freed_gib=_figure(event, "freed_gib"),
            message=plain(event.message),
        )


BLANK_EVENT = EventRow(at=None, kind="", seconds=None, freed_gib=None, message="")
