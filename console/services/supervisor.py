"""A minimal process supervisor: start children, restart those that die, stop them all.

Each child runs in its own session so that Ctrl-C in the terminal reaches only the
supervisor, which then stops them all at once (SIGTERM to each child's process group,
SIGKILL after a grace period) and the infrastructure they need (Redis) last. A child that
exits on its own is started again after a pause that doubles each time (a Celery worker
exits when its broker restarts under it, kombu 5: "'NoneType' object has no attribute
'hostname'"), up to a few minutes. One that keeps dying (``RestartPolicy.limit`` times
without staying up ``stable_after`` seconds) is reported as failing and still retried at
that slower pace: the other services, and the engines that serve requests, keep running.
Only a stop request (Ctrl-C, SIGTERM) stops the console.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


@dataclass
class Child:
    """One supervised process and where its output goes (None: the terminal)."""

    name: str
    argv: Sequence[str]
    log_path: Path | None = None
    # Infrastructure (Redis) stops after everything else, which may still need it.
    infrastructure: bool = False
    # Run before each start (the embedded Redis removes the socket a dead one left).
    prepare: Callable[[], None] | None = field(default=None, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # Exits in a row, each before the child had stayed up ``stable_after`` seconds.
    failures: int = field(default=0, repr=False)
    failing: bool = field(default=False, repr=False)
    started_at: float = field(default=0.0, repr=False)
    restart_at: float | None = field(default=None, repr=False)
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str]) -> None:
        if self.process is not None:
            # A restart: what the dead one left in its group (a celery pool) goes with it.
            _signal_group(self.process.pid, signal.SIGKILL)
        self._close_log()
        if self.prepare is not None:
            self.prepare()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            list(self.argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file else None,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def last_lines(self, count: int = 20) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()[-count:]

    def terminate(self) -> None:
        """SIGTERM the child's process group (it may take a while to finish its work)."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then SIGKILL whatever of the group is left."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", self.name)
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process is not None:
            # Grandchildren (a celery pool, an engine's workers) share the group.
            _signal_group(self.process.pid, signal.SIGKILL)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@dataclass(frozen=True)
class RestartPolicy:
    """A dead child is started again after ``first_delay`` seconds, doubling up to
    ``max_delay``. ``limit`` exits in a row, none after staying up ``stable_after``
    seconds, make it failing (reported, still retried); staying up that long makes it
    healthy again and its delay starts over."""

    limit: int = 5
    first_delay: float = 1.0
    max_delay: float = 300.0
    stable_after: float = 60.0

    def delay(self, failures: int) -> float:
        """The pause before the restart that follows the ``failures``-th exit in a row."""
        return float(min(self.first_delay * 2 ** min(failures - 1, 32), self.max_delay))


@dataclass(frozen=True)
class FailingChild:
    """A child reported as failing: what the pages' banner and the log say about it."""

    name: str
    failures: int
    exit_code: int
    retry_seconds: float


class Supervisor:
    """Children started in order; on stop, the services first, then the infrastructure."""

    def __init__(
        self,
        env: Mapping[str, str],
        grace: float = 15.0,
        policy: RestartPolicy | None = None,
        report: Callable[[str], None] | None = None,
        on_failing: Callable[[list[FailingChild]], None] | None = None,
    ) -> None:
        self.env = env
        self.grace = grace
        self.policy = policy or RestartPolicy()
        self.report = report or _print
        # Told the failing children each time the list changes (up: the pages' banner).
        self.on_failing = on_failing
        self.children: list[Child] = []
        self._failing: dict[str, FailingChild] = {}
        self._stop_requested = False

    def start(self, child: Child) -> Child:
        child.start(self.env)
        self.children.append(child)
        log.info("started %s (pid %d)", child.name, child.pid)
        return child

    def request_stop(self, signum: int, _frame: object) -> None:
        self._stop_requested = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def wait(self, poll: float = 0.5) -> None:
        """Block until a stop is requested; children that die in between are started again."""
        while not self._stop_requested:
            now = time.monotonic()
            for child in self.children:
                self._tend(child, now)
            time.sleep(poll)

    def _tend(self, child: Child, now: float) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart_at = None
                child.start(self.env)
                self.report(f"restarted {child.name} (pid {child.pid})")
            return
        code = child.exit_code()
        if code is not None:
            self._schedule_restart(child, code, now)
        elif child.failures and now - child.started_at >= self.policy.stable_after:
            self._recovered(child)

    def _schedule_restart(self, child: Child, code: int, now: float) -> None:
        child.failures += 1
        delay = self.policy.delay(child.failures)
        child.restart_at = now + delay
        self.report(
            f"{child.name} exited with code {code}; restarting it in {delay:g} s "
            f"(exit {child.failures} in a row)"
        )
        if child.failures >= self.policy.limit:
            self._set_failing(child, FailingChild(child.name, child.failures, code, delay))

    def _set_failing(self, child: Child, failing: FailingChild) -> None:
        if not child.failing:
            log.error("%s keeps failing", child.name)
            self.report(
                f"{child.name} keeps failing ({child.failures} exits in a row, last code "
                f"{failing.exit_code}): retrying it ever less often, at most every "
                f"{self.policy.max_delay:g} s; the rest of the console keeps running"
            )
        child.failing = True
        self._failing[child.name] = failing
        self._tell_failing()

    def _recovered(self, child: Child) -> None:
        child.failures = 0
        if child.failing:
            child.failing = False
            self._failing.pop(child.name, None)
            self.report(f"{child.name} has stayed up {self.policy.stable_after:g} s: healthy")
            self._tell_failing()

    def _tell_failing(self) -> None:
        if self.on_failing is not None:
            self.on_failing(list(self._failing.values()))

    def stop_all(self) -> None:
        """Stop the services together (they finish in parallel), then the infrastructure."""
        for infrastructure in (False, True):
            group = [c for c in self.children if c.infrastructure is infrastructure]
            for child in group:
                child.terminate()
            deadline = time.monotonic() + self.grace
            for child in group:
                child.wait_or_kill(deadline)


def _print(message: str) -> None:
    print(message, flush=True)
