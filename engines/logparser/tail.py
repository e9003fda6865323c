"""Follow a vLLM log file: each poll parses what was appended since the last one."""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from engines.logparser.events import EngineLogEvent
from engines.logparser.parser import LogParser

_READ_BYTES = 1 << 20


class LogTail:
    """A log file followed by polling, like ``tail -F``.

    Copes with a file that does not exist yet, one truncated in place (``copytruncate``:
    reading starts again at the top; seen when the file is shorter than what was read)
    and one rotated (renamed and re-created: the rest of the old file is read first).
    Bytes are decoded as UTF-8 with replacement, so binary or cut multi-byte sequences
    cannot stop it.
    """

    def __init__(self, path: Path, *, year: int | None = None) -> None:
        self.path = path
        self._year = year
        self._file: BinaryIO | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parser = LogParser(year=year)

    def poll(self) -> list[EngineLogEvent]:
        """Events of the lines completed since the last poll (none if there is no file)."""
        events: list[EngineLogEvent] = []
        if self._file is not None and self._was_replaced(self._file):
            events += self._read_to_end(self._file)
            events += self._finish_stream()
            self.close()
        if self._file is None:
            self._file = self._open()
            if self._file is None:
                return events
        elif self._was_truncated(self._file):
            self._file.seek(0)
            self._reset_stream()
        events += self._read_to_end(self._file)
        return events

    def close(self) -> None:
        """Release the file; a later poll opens it again from the top."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._reset_stream()

    def __enter__(self) -> LogTail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> BinaryIO | None:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            return None

    def _was_replaced(self, file: BinaryIO) -> bool:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            # Renamed away and not re-created yet: keep reading the old file.
            return False
        opened = os.fstat(file.fileno())
        return (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino)

    def _was_truncated(self, file: BinaryIO) -> bool:
        return os.fstat(file.fileno()).st_size < file.tell()

    def _read_to_end(self, file: BinaryIO) -> list[EngineLogEvent]:
        events: list[EngineLogEvent] = []
        while block := file.read(_READ_BYTES):
            events += self._parser.feed(self._decoder.decode(block))
        return events

    def _finish_stream(self) -> list[EngineLogEvent]:
        events = self._parser.feed(self._decoder.decode(b"", final=True))
        return events + self._parser.flush()

    def _reset_stream(self) -> None:
        self._decoder.reset()
        self._parser = LogParser(year=self._year)
