"""Turn vLLM log text into events, a line at a time or incrementally from a stream."""

from __future__ import annotations

import re

from engines.logparser.events import EngineLogEvent
from engines.logparser.patterns import (
    ANSI,
    CLIENT_TEXT,
    HEADER,
    HTML,
    MAX_LINE_CHARS,
    NEEDLES,
    PREFIX_COLOURS,
    PROCESS,
    Rule,
)
from engines.logparser.timestamps import log_timestamp


def parse_line(line: str, *, year: int | None = None) -> EngineLogEvent | None:
    """The event one log line reports, or None for a line that reports none.

    Never raises on odd input: unknown, cut-off or binary lines are simply not events.
    Lines longer than ``MAX_LINE_CHARS`` are read up to that length.
    """
    raw = line[:MAX_LINE_CHARS].rstrip("\r\n")
    text = _clean(raw)
    for needle, rule in NEEDLES:
        if needle in text:
            match = rule.pattern.search(text)
            if match is not None:
                if CLIENT_TEXT.search(text, 0, match.start()) is not None:
                    return None  # the needle is in a request line or a prompt: a client's
                return _event(rule, match, text, raw, year)
    return None


def parse_text(text: str, *, year: int | None = None) -> list[EngineLogEvent]:
    """The events of a whole log text; ``\\r`` ends a line too (tqdm bars, CRLF files)."""
    events = []
    for line in _lines(text):
        event = parse_line(line, year=year)
        if event is not None:
            events.append(event)
    return events


class LogParser:
    """Incremental parser: ``feed`` chunks as they arrive, ``flush`` at end of stream.

    A chunk may end mid-line: the partial line is kept (up to ``MAX_LINE_CHARS``) until
    its end arrives, so feeding a text in any pieces gives the events of ``parse_text``.
    """

    def __init__(self, *, year: int | None = None) -> None:
        self._year = year
        self._pieces: list[str] = []
        self._length = 0

    def feed(self, chunk: str) -> list[EngineLogEvent]:
        """Events of the lines that ``chunk`` completes."""
        *complete, rest = _lines(chunk)
        events = []
        for piece in complete:
            self._keep(piece)
            event = self._take()
            if event is not None:
                events.append(event)
        self._keep(rest)
        return events

    def flush(self) -> list[EngineLogEvent]:
        """The event of the last, unterminated line, if any; the parser is then empty."""
        event = self._take()
        return [] if event is None else [event]

    def _keep(self, piece: str) -> None:
        # Bounded: a writer that never prints a newline cannot grow the buffer.
        room = MAX_LINE_CHARS - self._length
        if room > 0 and piece:
            kept = piece[:room]
            self._pieces.append(kept)
            self._length += len(kept)

    def _take(self) -> EngineLogEvent | None:
        line = "".join(self._pieces)
        self._pieces.clear()
        self._length = 0
        return parse_line(line, year=self._year) if line else None


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): that also splits on \x0b, \x1c, \u2028..., which vLLM
    # prints inside messages, and it would make feed() and parse_text() disagree.
    return text.replace("\r", "\n").split("\n")


def _clean(line: str) -> str:
    if "\x1b" in line:
        for code in PREFIX_COLOURS:
            line = line.replace(code, "")
        if "\x1b" in line:
            line = ANSI.sub("", line)
    if "<" in line:
        line = HTML.sub("", line)
    return line.rstrip()


def _event(
    rule: Rule, match: re.Match[str], text: str, raw: str, year: int | None
) -> EngineLogEvent:
    header = _last(HEADER, text, match.start())
    before = header.start() if header is not None else match.start()
    process = _last(PROCESS, text, before)
    timestamp = None
    if header is not None:
        month, day, hour, minute, second = (int(group) for group in header.groups())
        timestamp = log_timestamp(month, day, (hour, minute, second), year=year)
    return EngineLogEvent(
        rule.kind,
        **rule.figures(match),
        process=process[1].strip() if process is not None else None,
        pid=int(process[2]) if process is not None else None,
        timestamp=timestamp,
        line=raw,
    )


def _last(pattern: re.Pattern[str], text: str, end: int) -> re.Match[str] | None:
    """The last match of ``pattern`` that ends before ``end`` (interleaved writers)."""
    matches = list(pattern.finditer(text, 0, end))
    return matches[-1] if matches else None
