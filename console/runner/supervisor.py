"""A minimal process supervisor: start children, restart those that die, stop them all.

Each child runs in its own session so that Ctrl-C in the terminal reaches only the
supervisor, which then stops them all at once (SIGTERM to each child's process group,
SIGKILL after a grace period) and the infrastructure they need (Redis) last. A child that
exits on its own is started again after a pause that doubles each time (a Celery worker
exits when its broker restarts under it, kombu 5: "'NoneType' object has no attribute
'hostname'"); one that keeps dying, ``RestartPolicy.limit`` times within its window, takes
the whole console down: a half-running console (web up, no worker) is worse than none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import deque
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
    restarts: deque[float] = field(default_factory=deque, repr=False)
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
    ``max_delay``; past ``limit`` restarts within ``window`` seconds it is given up."""

    limit: int = 5
    window: float = 600.0
    first_delay: float = 1.0
    max_delay: float = 30.0


class Supervisor:
    """Children started in order; on stop, the services first, then the infrastructure."""

    def __init__(
        self,
        env: Mapping[str, str],
        grace: float = 15.0,
        policy: RestartPolicy | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.env = env
        self.grace = grace
        self.policy = policy or RestartPolicy()
        self.report = report or _print
        self.children: list[Child] = []
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

    def wait(self, poll: float = 0.5) -> Child | None:
        """Block until a stop is requested (None) or a child dies too often (that child);
        children that die in between are started again."""
        while not self._stop_requested:
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restart_at = None
                        child.start(self.env)
                        self.report(f"restarted {child.name} (pid {child.pid})")
                    continue
                code = child.exit_code()
                if code is not None and not self._schedule_restart(child, code, now):
                    return child
            time.sleep(poll)
        return None

    def _schedule_restart(self, child: Child, code: int, now: float) -> bool:
        """Plan the restart of a child that exited; False when it has died too often."""
        policy = self.policy
        while child.restarts and child.restarts[0] < now - policy.window:
            child.restarts.popleft()
        if len(child.restarts) >= policy.limit:
            return False
        delay = min(policy.first_delay * 2 ** len(child.restarts), policy.max_delay)
        child.restarts.append(now)
        child.restart_at = now + delay
        minutes = f"{policy.window / 60:g} min"
        self.report(
            f"{child.name} exited with code {code}; restarting it in {delay:g} s "
            f"(restart {len(child.restarts)} of {policy.limit} allowed in {minutes})"
        )
        return True

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
