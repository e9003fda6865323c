"""Engine events as the instance page lists them.

The agent stores a parsed log line's figures and the raw line in ``message``; vLLM colours
its log prefix with ANSI escapes, which a page shows as text, so they are dropped here
(``static/js/instance.js`` does the same for live lines).
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
            seconds=event.figure("seconds"),
            freed_gib=event.figure("freed_gib"),
            message=plain(event.message),
        )


BLANK_EVENT = EventRow(at=None, kind="", seconds=None, freed_gib=None, message="")
