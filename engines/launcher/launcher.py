"""Start, watch and stop engine processes that outlive the agent that started them.

Each instance gets ``<run_dir>/<name>/`` holding ``engine.log`` (+ rotated copies) and
``engine.pid.json``. Engines run detached (own session, stdin on /dev/null, output
straight to the log file), so an agent restart or crash leaves them serving; the new
agent calls ``find_running()`` to adopt them again.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from engines.launcher import process
from engines.launcher.errors import EngineAlreadyRunningError, EngineDiedError, EngineStartTimeout
from engines.launcher.logfiles import last_lines, open_for_child, rotate_logs
from engines.launcher.pidfile import PID_FILE_NAME, PidRecord, read_record, write_record
from engines.launcher.readiness import (
    Readiness,
    base_url,
    health_ok,
    listens_on,
    readiness_from_log,
)
from engines.launcher.spec import (
    LaunchSpec,
    build_command,
    build_env,
    redact_command,
    validate_name,
)

logger = logging.getLogger(__name__)

LOG_FILE_NAME = "engine.log"
KILL_WAIT_S = 5.0
_HEALTH_TIMEOUT = httpx.Timeout(2.0, connect=0.5)


@dataclass(frozen=True)
class LaunchedEngine:
    """A started engine; ``host`` is the address it was told to bind.

    ``create_time`` is psutil's start time of ``pid``, which tells the engine from a later
    process that got the same pid; when None, the pid file's record is used instead.
    """

    name: str
    pid: int
    port: int
    log_path: Path
    started_at: datetime
    host: str = "127.0.0.1"
    create_time: float | None = None

    @property
    def base_url(self) -> str:
        """Where a client on this host reaches the engine."""
        return base_url(self.host, self.port)


def _engine_from_record(record: PidRecord) -> LaunchedEngine:
    return LaunchedEngine(
        name=record.name,
        pid=record.pid,
        port=record.port,
        log_path=Path(record.log_path),
        started_at=datetime.fromtimestamp(record.started_at, tz=UTC),
        host=record.host,
        create_time=record.create_time,
    )


class Launcher:
    """Starts engines under ``run_dir`` and finds them again after a restart."""

    def __init__(
        self, run_dir: Path, *, poll_interval: float = 0.2, env: Mapping[str, str] | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.poll_interval = poll_interval
        # What every engine started here sees besides this process's environment and its
        # spec's (which wins): the GPU probe's ``launch_env``.
        self.env = dict(env or {})
        # Our own children, to collect their exit codes (and reap them: no zombies).
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        # Exit codes of children reap() collected, for wait_ready and stop to report.
        self._exit_codes: dict[int, int] = {}

    def instance_dir(self, name: str) -> Path:
        return self.run_dir / validate_name(name)

    def start(self, spec: LaunchSpec) -> LaunchedEngine:
        """Start ``spec`` detached; raise EngineAlreadyRunningError if that name runs already."""
        command = build_command(spec)
        env = build_env(spec, {**os.environ, **self.env})
        directory = self.instance_dir(spec.name)
        directory.mkdir(parents=True, exist_ok=True)
        running = self._live_record(directory / PID_FILE_NAME)
        if running is not None:
            raise EngineAlreadyRunningError(spec.name, running.pid)
        log_path = directory / LOG_FILE_NAME
        rotate_logs(log_path)
        started_at = time.time()
        child = self._spawn(command, env, log_path)
        # Our unreaped child has a create_time even if it already exited.
        record = PidRecord(
            name=spec.name,
            pid=child.pid,
            create_time=psutil.Process(child.pid).create_time(),
            started_at=started_at,
            host=spec.host,
            port=spec.port,
            command=redact_command(command),
            log_path=str(log_path),
        )
        write_record(directory / PID_FILE_NAME, record)
        logger.info("started %s as pid %d: %s", spec.name, child.pid, " ".join(record.command))
        return _engine_from_record(record)

    def _spawn(
        self, command: list[str], env: dict[str, str], log_path: Path
    ) -> subprocess.Popen[bytes]:
        descriptor = open_for_child(log_path)
        try:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=descriptor,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(descriptor)
        self._children[child.pid] = child
        self._exit_codes.pop(child.pid, None)
        return child

    def wait_ready(self, engine: LaunchedEngine, timeout: float = 600.0) -> Readiness:
        """Wait until ``engine`` serves ``/health``; raise EngineDiedError or EngineStartTimeout.

        ``seconds_to_ready`` counts from the process's start, so for an engine adopted
        after a restart it is the time until this call saw it ready, not its startup time.
        """
        deadline = time.monotonic() + timeout
        url = engine.base_url
        # trust_env=False: a proxy from the environment must not see loopback health checks.
        with httpx.Client(timeout=_HEALTH_TIMEOUT, trust_env=False) as client:
            while True:
                exited, code = self._exit_status(engine)
                if exited:
                    raise EngineDiedError(last_lines(engine.log_path), exit_code=code)
                if listens_on(engine.pid, engine.port) and health_ok(client, url):
                    seconds = time.time() - engine.started_at.timestamp()
                    return readiness_from_log(engine.log_path, seconds, url)
                if time.monotonic() >= deadline:
                    raise EngineStartTimeout(last_lines(engine.log_path), timeout)
                time.sleep(self.poll_interval)

    def reap(self) -> dict[int, int]:
        """Collect every child of ours that has exited: {pid: exit code}.

        An engine killed from outside (SIGKILL, the OOM killer) stays a zombie until its
        parent waits for it; until then its pid looks taken and, on a simulated GPU, its
        memory held. The agent calls this every tick. Safe beside wait_ready and stop in
        other threads: ``Popen.poll`` holds its own lock around ``waitpid``.
        """
        reaped: dict[int, int] = {}
        for pid, child in list(self._children.items()):
            code = child.poll()
            if code is not None and self._children.pop(pid, None) is child:
                self._exit_codes[pid] = code
                reaped[pid] = code
        for pid, code in reaped.items():
            logger.info("engine pid %d exited with status %d: reaped", pid, code)
        return reaped

    def _exit_status(self, engine: LaunchedEngine) -> tuple[bool, int | None]:
        child = self._children.get(engine.pid)
        if child is not None:
            code = child.poll()
            return code is not None, code
        if engine.pid in self._exit_codes:
            return True, self._exit_codes[engine.pid]
        pid, started = self._identify(engine)
        if started is None:
            return process.create_time(pid) is None, None
        return not process.is_same_process(pid, started), None

    def stop(self, engine_or_pid: LaunchedEngine | int, grace: float = 10) -> int | None:
        """SIGTERM the engine's process group, SIGKILL what is left after ``grace`` seconds.

        Returns the exit code when the engine is our child, else None; None too when it
        was already gone. A pid that now belongs to another process is left alone.
        """
        pid, started = self._identify(engine_or_pid)
        child = self._children.get(pid)
        if started is not None and not process.is_same_process(pid, started):
            if child is not None and child.poll() is not None:
                del self._children[pid]  # exited before: now reaped
            self._exit_codes.pop(pid, None)
            self._forget(pid, started)
            return None
        group = process.leader_group(pid)
        process.send_signal(pid, group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        gone, code = _wait_leader(pid, child, deadline)
        if not gone or (group is not None and not process.wait_group_gone(group, deadline)):
            logger.warning("pid %d's group outlived SIGTERM by %g s: sending SIGKILL", pid, grace)
            process.send_signal(pid, group, signal.SIGKILL)
            gone, code = _wait_leader(pid, child, time.monotonic() + KILL_WAIT_S)
            if group is not None:
                process.wait_group_gone(group, time.monotonic() + KILL_WAIT_S)
        self._children.pop(pid, None)
        self._forget(pid, started)
        return code

    def _identify(self, engine_or_pid: LaunchedEngine | int) -> tuple[int, float | None]:
        """The pid and, when known, its recorded start time (None: trust the caller's pid)."""
        if isinstance(engine_or_pid, LaunchedEngine):
            if engine_or_pid.create_time is not None:
                return engine_or_pid.pid, engine_or_pid.create_time
            pid = engine_or_pid.pid
        else:
            pid = engine_or_pid
        for _, record in self._records():
            if record.pid == pid:
                return pid, record.create_time
        return pid, None

    def _forget(self, pid: int, started: float | None) -> None:
        """Remove the pid files of ``pid`` (only the one started at ``started`` when given)."""
        for path, record in self._records():
            if record.pid == pid and (
                started is None or process.same_start(record.create_time, started)
            ):
                path.unlink(missing_ok=True)

    def find_running(self) -> list[LaunchedEngine]:
        """Engines whose pid file names a live process started at the recorded time.

        Pid files of dead engines (or of pids since reused) are removed.
        """
        found: list[LaunchedEngine] = []
        for path in sorted(self.run_dir.glob(f"*/{PID_FILE_NAME}")):
            record = self._live_record(path)
            if record is not None:
                found.append(_engine_from_record(record))
        return found

    def _live_record(self, path: Path) -> PidRecord | None:
        record = read_record(path)
        if record is not None and process.is_same_process(record.pid, record.create_time):
            return record
        if path.exists():
            logger.info("removing stale pid file %s", path)
            path.unlink(missing_ok=True)
        return None

    def _records(self) -> list[tuple[Path, PidRecord]]:
        pairs = [(path, read_record(path)) for path in self.run_dir.glob(f"*/{PID_FILE_NAME}")]
        return [(path, record) for path, record in pairs if record is not None]


def _wait_leader(
    pid: int, child: subprocess.Popen[bytes] | None, deadline: float
) -> tuple[bool, int | None]:
    """Wait for ``pid`` to exit; (gone, exit code if it is our child)."""
    remaining = max(0.0, deadline - time.monotonic())
    if child is not None:
        try:
            return True, child.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            return False, None
    return process.wait_exit(pid, deadline), None
