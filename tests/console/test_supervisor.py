"""The supervisor of ``manage.py up``: dead children started again, up to a limit."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import psutil

from console.runner.supervisor import Child, RestartPolicy, Supervisor

FAST = RestartPolicy(limit=2, window=60, first_delay=0.1, max_delay=0.2)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_that_keeps_dying_is_restarted_up_to_the_limit_then_given_up(
    tmp_path: Path,
) -> None:
    reports: list[str] = []
    supervisor = Supervisor(dict(os.environ), grace=5, policy=FAST, report=reports.append)
    log = tmp_path / "crash.log"
    crash = supervisor.start(Child("crash", python("print('boom'); raise SystemExit(3)"), log))
    assert supervisor.wait(poll=0.05) is crash
    assert crash.exit_code() == 3
    assert log.read_text().count("boom") == 3, "started, then restarted twice"
    assert reports[0::2] == [
        "crash exited with code 3; restarting it in 0.1 s (restart 1 of 2 allowed in 1 min)",
        "crash exited with code 3; restarting it in 0.2 s (restart 2 of 2 allowed in 1 min)",
    ]
    assert re.fullmatch(r"restarted crash \(pid \d+\)", reports[1])
    assert reports[3] == f"restarted crash (pid {crash.pid})"
    supervisor.stop_all()


def test_a_killed_child_comes_back_and_a_stop_leaves_nothing(tmp_path: Path) -> None:
    reports: list[str] = []
    supervisor = Supervisor(dict(os.environ), grace=5, policy=FAST, report=reports.append)
    steady = supervisor.start(Child("steady", python("import time; time.sleep(120)")))
    first = steady.pid
    waiting = threading.Thread(target=lambda: reports.append(f"wait: {supervisor.wait(0.05)}"))
    waiting.start()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while steady.pid == first or steady.exit_code() is not None:
        assert time.monotonic() < deadline, f"not restarted: {reports}"
        time.sleep(0.05)
    assert psutil.Process(steady.pid).is_running()
    assert reports[0] == (
        "steady exited with code -9; restarting it in 0.1 s (restart 1 of 2 allowed in 1 min)"
    )
    supervisor.request_stop(signal.SIGINT, None)
    waiting.join(timeout=5)
    assert reports[-1] == "wait: None", "a stop is not a death"
    supervisor.stop_all()
    assert not psutil.pid_exists(steady.pid) or psutil.Process(steady.pid).status() == "zombie"


def test_restarts_older_than_the_window_are_forgotten(tmp_path: Path) -> None:
    reports: list[str] = []
    supervisor = Supervisor(
        dict(os.environ), policy=RestartPolicy(limit=1, window=0.5, first_delay=0.05),
        report=reports.append,
    )  # fmt: skip
    # Dies 0.7 s after each start: more than the window after the previous restart.
    flaky = supervisor.start(Child("flaky", python("import time; time.sleep(0.7)")))
    waiting = threading.Thread(target=supervisor.wait, args=(0.05,), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 30
    while sum(r.startswith("restarted flaky") for r in reports) < 3:
        assert waiting.is_alive(), f"given up: {reports}"
        assert time.monotonic() < deadline, f"not restarted 3 times: {reports}"
        time.sleep(0.05)
    assert waiting.is_alive(), "one restart allowed per 0.5 s window, never exceeded"
    assert len(flaky.restarts) == 1
    supervisor.request_stop(signal.SIGINT, None)
    waiting.join(timeout=5)
    supervisor.stop_all()
