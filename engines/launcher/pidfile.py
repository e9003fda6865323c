"""Pid files: what the launcher started, kept on disk so a restarted agent finds it again.

A pid alone is not an identity: once a process exits, the kernel may give its pid to an
unrelated process. Each record therefore keeps the process's start time as psutil reports
it (``create_time()``), and a record only matches a live process with the same start time.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

PID_FILE_NAME = "engine.pid.json"


@dataclass(frozen=True)
class PidRecord:
    """One launched engine as written to ``<run_dir>/<name>/engine.pid.json``.

    ``create_time`` (psutil's, whole-second precise at best) identifies the process;
    ``started_at`` is the wall clock just before it was spawned, for durations.
    ``command`` is stored with secret flag values redacted.
    """

    name: str
    pid: int
    create_time: float
    started_at: float
    host: str
    port: int
    command: list[str]
    log_path: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PidRecord:
        """Parse a record; raise ValueError (or a subclass) when it is not one."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("a pid record must be a JSON object")
        try:
            return cls(
                name=str(raw["name"]),
                pid=int(raw["pid"]),
                create_time=float(raw["create_time"]),
                started_at=float(raw["started_at"]),
                host=str(raw["host"]),
                port=int(raw["port"]),
                command=[str(part) for part in raw["command"]],
                log_path=str(raw["log_path"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a pid record: {error}") from error


def write_record(path: Path, record: PidRecord) -> None:
    """Write ``record`` atomically: readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as handle:
        handle.write(record.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def read_record(path: Path) -> PidRecord | None:
    """The record at ``path``; None when missing or unreadable."""
    try:
        return PidRecord.from_json(path.read_text())
    except (OSError, ValueError):
        return None
