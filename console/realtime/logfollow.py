"""Follow an engine's log file line by line, for the instance page's live tail.

``engines.logparser.LogTail`` turns lines into events and drops the rest; the live tail
wants every line. Like ``tail -F`` it copes with a file not there yet, truncated in place
(``copytruncate``) or rotated (renamed and re-created). A burst (a request log at high
load) is cut to its last ``max_lines`` per poll with a marker: the tail is for watching,
the file keeps everything.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import BinaryIO

READ_BYTES = 1 << 20
MAX_LINE_CHARS = 4000


class LineFollower:
    """Each ``poll`` returns the lines completed since the previous one."""

    def __init__(self, path: Path, *, max_lines: int = 200, from_end: bool = True) -> None:
        self.path = path
        self.max_lines = max_lines
        self._from_end = from_end
        self._file: BinaryIO | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def poll(self) -> list[str]:
        text = ""
        if self._file is not None and self._replaced(self._file):
            text += self._read(self._file)
            self.close()
        if self._file is None:
            self._file = self._open()
            if self._file is None:
                return self._cut(text)
        elif os.fstat(self._file.fileno()).st_size < self._file.tell():
            self._file.seek(0)
            self._partial = ""
        return self._cut(text + self._read(self._file))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> BinaryIO | None:
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return None
        if self._from_end:
            # What was in the file when the console started following it is history.
            file.seek(0, os.SEEK_END)
            self._from_end = False
        return file

    def _replaced(self, file: BinaryIO) -> bool:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(file.fileno())
        return (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino)

    def _read(self, file: BinaryIO) -> str:
        size = os.fstat(file.fileno()).st_size
        if size - file.tell() > READ_BYTES:
            # Far behind: only the last megabyte can matter to someone watching.
            file.seek(size - READ_BYTES)
            self._decoder.reset()
        chunks = []
        while block := file.read(READ_BYTES):
            chunks.append(self._decoder.decode(block))
        return "".join(chunks)

    def _cut(self, text: str) -> list[str]:
        *complete, self._partial = (self._partial + text).split("\n")
        self._partial = self._partial[-MAX_LINE_CHARS:]
        lines = [line.rstrip("\r")[:MAX_LINE_CHARS] for line in complete]
        if len(lines) > self.max_lines:
            skipped = len(lines) - self.max_lines
            return [f"[... {skipped} lines not shown]", *lines[-self.max_lines :]]
        return lines
