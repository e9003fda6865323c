"""Read sleep, wake, memory and startup figures out of vLLM's logs (facts section 5).

``parse_line`` / ``parse_text`` for text at hand, ``LogParser`` for text fed in chunks,
``stream_events`` for a byte stream such as a pipe, ``LogTail`` to follow a log file
that grows, is truncated or is rotated (and to keep its last raw lines for a live view).
"""

from engines.logparser.events import EngineLogEvent, EventKind
from engines.logparser.parser import LogParser, parse_line, parse_text
from engines.logparser.stream import stream_events
from engines.logparser.tail import LogTail, TailLines

__all__ = [
    "EngineLogEvent",
    "EventKind",
    "LogParser",
    "LogTail",
    "TailLines",
    "parse_line",
    "parse_text",
    "stream_events",
]
