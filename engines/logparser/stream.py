"""Parse a byte stream (a pipe, standard input) as it arrives."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO

from engines.logparser.events import EngineLogEvent
from engines.logparser.parser import LogParser

_READ_BYTES = 1 << 16


def stream_events(stream: BinaryIO, *, year: int | None = None) -> Iterator[list[EngineLogEvent]]:
    """Yield the events of each block read from ``stream`` until it ends.

    Reads whatever is available rather than waiting for a full block, so the events of
    a live pipe (``tail -f engine.log | ...``) come out as their lines arrive.
    """
    read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    parser = LogParser(year=year)
    while block := read(_READ_BYTES):
        yield parser.feed(decoder.decode(block))
    yield parser.feed(decoder.decode(b"", final=True)) + parser.flush()
