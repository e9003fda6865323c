"""vLLM's log output: record layout, process prefixes and colour per version
(docs/vllm-behaviour.md §5.1-5.2).

The emulator is one process, but it prints each line under the process that would print it
in vLLM (API server, engine core, workers), with this process's pid: the simulated GPU
directory also records this pid, so a reader can correlate the two.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from emulator.config import EmulatorConfig
from emulator.sites import site
from engines.versions import LogFormat, VllmVersion, v

_CYAN = "\x1b[1;36m"
_RESET = "\x1b[0;0m"


@dataclass(frozen=True)
class Proc:
    """A vLLM process name as printed in ``(name pid=N)``; ``None`` prints no prefix."""

    name: str | None
    pid: int


@dataclass(frozen=True)
class Layout:
    """Which process prints what: API server, engine core, and one entry per TP worker."""

    api: Proc
    core: Proc
    workers: tuple[Proc, ...]


def _core_name(version: VllmVersion) -> str | None:
    if version < v("0.10.0"):
        return None
    if version < v("0.10.2"):
        return "EngineCore_0"
    return "EngineCore_DP0" if version < v("0.18.0") else "EngineCore"


def _worker_name(version: VllmVersion, rank: int, tp: int) -> str | None:
    if version < v("0.8.0"):
        return "VllmWorkerProcess" if rank > 0 else None  # V0: the driver is rank 0
    if version < v("0.10.2"):
        return f"VllmWorker rank={rank}"
    return "Worker" if tp == 1 else f"Worker_TP{rank}"


def layout(config: EmulatorConfig, pid: int) -> Layout:
    """The process names ``config.version`` prints (docs/vllm-behaviour.md §5.2, process table)."""
    version = config.version
    api = Proc("APIServer" if version >= v("0.10.0") else None, pid)
    core = Proc(_core_name(version), pid)
    tp = config.tensor_parallel_size
    if not config.uses_worker_processes:
        return Layout(api, core, (core,))
    workers = tuple(Proc(_worker_name(version, rank, tp), pid) for rank in range(tp))
    return Layout(api, core, workers)


def _colour(config: EmulatorConfig, isatty: bool) -> bool:
    version = config.version
    if version < v("0.10.2"):
        return False
    if version < v("0.12.0"):
        return True  # 0.10.2-0.11.x wrap the prefix even into files and docker logs
    if config.no_color:
        return False
    if version < v("0.16.0"):
        return True
    return config.colour_env == "1" or (config.colour_env == "auto" and isatty)


class VllmLog:
    """Writes vLLM-formatted lines to one stream, one whole line at a time."""

    def __init__(
        self,
        config: EmulatorConfig,
        stream: TextIO | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._stream = stream or sys.stdout
        self._version = config.version
        self._format = config.features.log_format
        self._prefix = config.logging_prefix
        self._colour = _colour(config, self._stream.isatty())
        self._clock = clock
        self._lock = threading.Lock()
        self.layout = layout(config, os.getpid())

    def _proc_prefix(self, proc: Proc) -> str:
        if proc.name is None:
            return ""
        text = f"({proc.name} pid={proc.pid})"
        return f"{_CYAN}{text}{_RESET} " if self._colour else f"{text} "

    def _header(self, proc: Proc, level: str, key: str) -> str:
        where = site(key, self._version)
        stamp = self._clock().strftime("%m-%d %H:%M:%S")
        if self._format is LogFormat.V07:
            record = f"{level} {stamp} {where.file}:{where.line}] "
        else:
            record = f"{level} {stamp} [{where.file}:{where.line}] "
        if self._format is LogFormat.V031:
            return f"{self._prefix}{self._proc_prefix(proc)}{record}"
        return f"{self._proc_prefix(proc)}{self._prefix}{record}"

    def _write(self, lines: list[str]) -> None:
        with self._lock:
            self._stream.write("".join(f"{line}\n" for line in lines))
            self._stream.flush()

    def log(self, proc: Proc, level: str, key: str, message: str) -> None:
        """One record; continuation lines repeat the header (vLLM's ``NewLineFormatter``)."""
        header = self._header(proc, level, key)
        self._write([header + part for part in message.split("\n")])

    def info(self, proc: Proc, key: str, message: str) -> None:
        self.log(proc, "INFO", key, message)

    def warning(self, proc: Proc, key: str, message: str) -> None:
        self.log(proc, "WARNING", key, message)

    def error(self, proc: Proc, key: str, message: str) -> None:
        self.log(proc, "ERROR", key, message)

    def raw(self, proc: Proc, text: str) -> None:
        """Output that bypasses logging (tracebacks, uvicorn): prefixed only before 0.31."""
        prefix = "" if self._format is LogFormat.V031 else self._proc_prefix(proc)
        self._write([prefix + part for part in text.split("\n")])

    def uvicorn(self, message: str, level: str = "INFO") -> None:
        """A line in uvicorn's own format, ``INFO:     message``."""
        self.raw(self.layout.api, f"{level + ':':<10}{message}")
