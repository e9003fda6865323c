"""Read sleep, wake, memory and startup figures out of vLLM's logs (docs/vllm-behaviour.md §5).

``parse_line`` / ``parse_text`` for text at hand, ``LogParser`` for text fed in chunks,
``stream_events`` for a byte stream such as a pipe, ``LogTail`` to follow a log file
that grows, is truncated or is rotated (and to keep its last raw lines for a live view);
``sleep_figures`` / ``wake_figures`` for what a step's events add up to.
"""

from engines.logparser.events import EngineLogEvent, EventKind
from engines.logparser.figures import (
    SLEEP_KINDS,
    WAKE_KINDS,
    SleepFigures,
    WakeFigures,
    sleep_figures,
    wake_figures,
    woke_kv_cache,
)
from engines.logparser.parser import LogParser, parse_line, parse_text
from engines.logparser.stream import stream_events
from engines.logparser.tail import LogTail, TailLines

__all__ = [
    "SLEEP_KINDS",
    "WAKE_KINDS",
    "EngineLogEvent",
    "EventKind",
    "LogParser",
    "LogTail",
    "SleepFigures",
    "TailLines",
    "WakeFigures",
    "parse_line",
    "parse_text",
    "sleep_figures",
    "stream_events",
    "wake_figures",
    "woke_kv_cache",
]
