"""Follow a vLLM log file: each poll parses what was appended since the last one."""

from __future__ import annotations

import codecs
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from engines.logparser.events import EngineLogEvent
from engines.logparser.parser import LogParser
from engines.logparser.patterns import MAX_LINE_CHARS

_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class TailLines:
    """Raw lines a ``LogTail`` read: the last ones it kept, and how many came before them."""

    lines: list[str]
    skipped: int


class LogTail:
    """A log file followed by polling, like ``tail -F``.

    Copes with a file that does not exist yet, one truncated in place (``copytruncate``:
    reading starts again at the top; seen when the file is shorter than what was read)
    and one rotated (renamed and re-created: the rest of the old file is read first).
    Bytes are decoded as UTF-8 with replacement, so binary or cut multi-byte sequences
    cannot stop it.

    With ``keep_lines``, the same read also keeps the last raw lines for ``take_lines``
    (a live view of the log), so the file is never read a second time for them.
    """

    def __init__(self, path: Path, *, year: int | None = None, keep_lines: int = 0) -> None:
        self.path = path
        self._year = year
        self._file: BinaryIO | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parser = LogParser(year=year)
        self._lines = _RecentLines(keep_lines)

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

    def take_lines(self) -> TailLines:
        """The raw lines polls completed since the last call: the last ``keep_lines``."""
        return self._lines.take()

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
            text = self._decoder.decode(block)
            events += self._parser.feed(text)
            self._lines.feed(text)
        return events

    def _finish_stream(self) -> list[EngineLogEvent]:
        text = self._decoder.decode(b"", final=True)
        self._lines.feed(text)
        self._lines.flush()
        return self._parser.feed(text) + self._parser.flush()

    def _reset_stream(self) -> None:
        self._decoder.reset()
        self._parser = LogParser(year=self._year)
        self._lines.drop_partial()


class _RecentLines:
    """The last ``keep`` lines of the text fed, each cut to ``MAX_LINE_CHARS``.

    Only ``\\n`` ends a line here (a trailing ``\\r`` is dropped): a tqdm bar redrawn with
    ``\\r`` stays one line for a reader, while the parser splits it to read each state.
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._kept: deque[str] = deque(maxlen=keep)
        self._skipped = 0
        self._partial = ""

    def feed(self, text: str) -> None:
        if not self._keep:
            return
        *complete, partial = (self._partial + text).split("\n")
        # Bounded: a writer that never prints a newline cannot grow the buffer.
        self._partial = partial[:MAX_LINE_CHARS]
        self._add(complete)

    def flush(self) -> None:
        if self._partial:
            self._add([self._partial])
        self._partial = ""

    def drop_partial(self) -> None:
        self._partial = ""

    def take(self) -> TailLines:
        taken = TailLines(list(self._kept), self._skipped)
        self._kept.clear()
        self._skipped = 0
        return taken

    def _add(self, complete: list[str]) -> None:
        self._skipped += max(0, len(self._kept) + len(complete) - self._keep)
        self._kept.extend(line.rstrip("\r")[:MAX_LINE_CHARS] for line in complete[-self._keep :])
