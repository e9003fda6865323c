"""What the driver reads beside the HTTP answers: GPU memory, host RAM and engine log lines."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import psutil

from engines.logparser import parse_line
from engines.probes import GpuProbe

GIB = 1 << 30


def gpu_snapshot(probe: GpuProbe) -> list[dict[str, Any]]:
    """Every GPU now: used and total bytes, and the processes holding memory."""
    return [
        {
            "index": reading.index,
            "name": reading.name,
            "total_bytes": reading.total_bytes,
            "used_bytes": reading.used_bytes,
            "processes": [
                {"pid": process.pid, "used_bytes": process.used_bytes}
                for process in reading.processes
            ],
        }
        for reading in probe.read()
    ]


def gpu_used(probe: GpuProbe, index: int = 0) -> int | None:
    for reading in probe.read():
        if reading.index == index:
            return reading.used_bytes
    return None


def host_snapshot() -> dict[str, int]:
    """psutil's view of host RAM: pinned backups show as ``shared`` (vLLM 0.25, H200)."""
    memory = psutil.virtual_memory()
    return {key: int(value) for key, value in memory._asdict().items() if key != "percent"}


class LogCursor:
    """Lines appended to one log file since the last read (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def skip_to_end(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def read_new(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        text = data[: end + 1].decode("utf-8", errors="replace").replace("\r", "\n")
        return [line for line in text.split("\n") if line.strip()]


def events(lines: list[str]) -> list[dict[str, Any]]:
    """The parser's events of these lines, with the line each came from."""
    found = []
    for line in lines:
        event = parse_line(line)
        if event is not None:
            found.append({**event.to_json_dict(), "line": line[:400]})
    return found


# vLLM 0.25: "Reloading and processing weights took 1.94 seconds"; older and the emulator:
# "Loading weights took 1.61 seconds" (also printed at startup).
RELOAD = re.compile(r"(?:Reloading and processing weights|Loading weights) took ([\d.]+) seconds")


def engine_seconds(found: list[dict[str, Any]]) -> float:
    """What the engine itself spent on sleeps and wakes (its own "It took ..." lines)."""
    return sum(float(e["seconds"]) for e in found if e["event"] in ("sleep", "wake"))


def reload_seconds(lines: list[str]) -> float:
    """Seconds of the weight reloads these lines report (a level-2 wake's middle call)."""
    return sum(float(match[1]) for line in lines for match in RELOAD.finditer(line))


class GaveUpError(RuntimeError):
    """What was waited for can no longer happen (a process exited): stop waiting."""


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except GaveUpError:
            raise
        except Exception as error:
            last_error = error
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:g} s (last error: {last_error})")
