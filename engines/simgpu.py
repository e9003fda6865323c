"""Simulated GPUs for machines without NVIDIA hardware: a shared state directory.

Emulators in simulated mode publish the device memory they hold, per GPU index, the way
NVML's per-process list would show it; the GPU probe reads the same directory. Layout::

    <dir>/gpus.json          [{"index": 0, "uuid": ..., "name": ..., "total_bytes": ...}]
    <dir>/procs/<pid>.json   {"pid": 123, "create_time": 1764000000.5,
                              "used_bytes": {"0": 123456789}, "host_pinned_bytes": 0}
    <dir>/.lock              flock'd around every check-and-publish

``host_pinned_bytes`` is the pinned host RAM a simulated level-1 sleeper would hold for
its weight backup (the emulator does not really allocate it in simulated mode), so the
host probe and the host-RAM fit check can count it. A process's file is ignored once its
process has exited (a zombie included) or its pid was reused (``create_time`` differs), so
a killed emulator frees its memory exactly as the driver frees a killed process's memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

GIB = 1 << 30
# psutil's create_time can move by up to a second with NTP (see engines.launcher.process).
_START_TOLERANCE_S = 1.0

# Set for an emulator in simulated mode: the directory it publishes its memory to.
SIM_GPU_DIR_ENV = "VLLM_CONSOLE_SIM_GPU_DIR"


class SimOutOfMemoryError(RuntimeError):
    """An allocation would exceed a simulated GPU's total memory."""


@dataclass(frozen=True)
class SimGpu:
    """One simulated device."""

    index: int
    uuid: str
    name: str
    total_bytes: int


@dataclass(frozen=True)
class SimProcess:
    """Device memory one live process holds, by GPU index."""

    pid: int
    used_bytes: dict[int, int]
    host_pinned_bytes: int = 0


def _holds_memory(pid: int, started: float | None) -> bool:
    """Whether ``pid`` is still the running process that published (not a zombie, not reused).

    A killed process's device memory is freed when it exits, not when its parent reaps it:
    a zombie holds nothing, and neither does a later process that was given the same pid.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) <= _START_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _write_atomic(path: Path, payload: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


class SimGpuDir:
    """The state directory shared by emulators (writers) and probes (readers)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._procs = self.path / "procs"

    def create(self, gpus: list[SimGpu]) -> None:
        """Declare the simulated devices (idempotent; keeps published processes)."""
        self._procs.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path / "gpus.json", [gpu.__dict__ for gpu in gpus])

    def exists(self) -> bool:
        return (self.path / "gpus.json").is_file()

    def gpus(self) -> list[SimGpu]:
        raw = json.loads((self.path / "gpus.json").read_text())
        return [SimGpu(**entry) for entry in raw]

    def processes(self) -> list[SimProcess]:
        """Live processes and what they hold; files of dead pids are removed."""
        found: list[SimProcess] = []
        for file in sorted(self._procs.glob("*.json")):
            try:
                raw = json.loads(file.read_text())
            except (OSError, ValueError):
                continue  # being replaced right now, or removed
            pid = int(raw["pid"])
            started = raw.get("create_time")
            if not _holds_memory(pid, None if started is None else float(started)):
                file.unlink(missing_ok=True)
                continue
            used = {int(k): int(b) for k, b in raw["used_bytes"].items()}
            pinned = int(raw.get("host_pinned_bytes", 0))
            found.append(SimProcess(pid=pid, used_bytes=used, host_pinned_bytes=pinned))
        return found

    def used_bytes(self, index: int, *, exclude_pid: int | None = None) -> int:
        return sum(p.used_bytes.get(index, 0) for p in self.processes() if p.pid != exclude_pid)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._procs.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish(
        self,
        pid: int,
        used_bytes: Mapping[int, int],
        *,
        host_pinned_bytes: int = 0,
        check: bool = True,
    ) -> None:
        """Set what ``pid`` holds; with ``check``, refuse growth past a device's total.

        Shrinking never fails. The check and the write happen under one lock, so two
        emulators waking on the same device cannot both succeed past its total.
        """
        with self._locked():
            if check:
                totals = {gpu.index: gpu.total_bytes for gpu in self.gpus()}
                for index, wanted in used_bytes.items():
                    others = self.used_bytes(index, exclude_pid=pid)
                    if index not in totals:
                        raise SimOutOfMemoryError(f"no simulated GPU {index}")
                    if others + wanted > totals[index]:
                        free = totals[index] - others
                        raise SimOutOfMemoryError(
                            f"GPU {index}: {wanted / GIB:.2f} GiB wanted, "
                            f"{free / GIB:.2f} GiB free of {totals[index] / GIB:.2f} GiB"
                        )
            payload = {
                "pid": pid,
                "create_time": _create_time(pid),
                "used_bytes": {str(k): v for k, v in used_bytes.items()},
                "host_pinned_bytes": host_pinned_bytes,
            }
            _write_atomic(self._procs / f"{pid}.json", payload)

    def forget(self, pid: int) -> None:
        """Drop ``pid``'s entry (a clean exit)."""
        (self._procs / f"{pid}.json").unlink(missing_ok=True)
