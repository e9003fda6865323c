"""The supervisor of ``manage.py up``: dead children started again, up to a limit."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from console.services.supervisor import Child, FailingChild, RestartPolicy, Supervisor

FAST = RestartPolicy(limit=2, first_delay=0.1, max_delay=0.2, stable_after=30)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def test_a_child_that_keeps_dying_is_reported_failing_and_retried_at_a_capped_pace(
    tmp_path: Path,
) -> None:
    reports: list[str] = []
    told: list[list[FailingChild]] = []
    supervisor = Supervisor(
        dict(os.environ), grace=5, policy=FAST, report=reports.append, on_failing=told.append
    )
    log = tmp_path / "crash.log"
    crash = supervisor.start(Child("crash", python("print('boom'); raise SystemExit(3)"), log))
    steady = supervisor.start(Child("steady", python("import time; time.sleep(120)")))
    waiting = threading.Thread(target=supervisor.wait, args=(0.05,), daemon=True)
    waiting.start()
    wait_for(lambda: log.read_text().count("boom") >= 5, "four restarts after the failing report")
    assert waiting.is_alive(), "a failing child does not stop the supervisor"
    assert steady.exit_code() is None, "nor the healthy children"
    exits = [r for r in reports if " exited with code 3" in r]
    assert exits[:4] == [
        "crash exited with code 3; restarting it in 0.1 s (exit 1 in a row)",
        "crash exited with code 3; restarting it in 0.2 s (exit 2 in a row)",
        "crash exited with code 3; restarting it in 0.2 s (exit 3 in a row)",
        "crash exited with code 3; restarting it in 0.2 s (exit 4 in a row)",
    ]
    failing = [r for r in reports if "keeps failing" in r]
    assert failing == [
        "crash keeps failing (2 exits in a row, last code 3): retrying it ever less often, "
        "at most every 0.2 s; the rest of the console keeps running"
    ], "reported once"
    assert told[0] == [FailingChild("crash", failures=2, exit_code=3, retry_seconds=0.2)]
    supervisor.request_stop(signal.SIGINT, None)
    waiting.join(timeout=5)
    assert not waiting.is_alive()
    supervisor.stop_all()
    assert crash.failing


def test_restart_delays_double_up_to_a_few_minutes() -> None:
    policy = RestartPolicy()
    delays = [policy.delay(failures) for failures in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert policy.delay(10_000) == 300


def test_a_killed_child_comes_back_and_a_stop_leaves_nothing(tmp_path: Path) -> None:
    reports: list[str] = []
    supervisor = Supervisor(dict(os.environ), grace=5, policy=FAST, report=reports.append)
    steady = supervisor.start(Child("steady", python("import time; time.sleep(120)")))
    first = steady.pid
    waiting = threading.Thread(target=supervisor.wait, args=(0.05,), daemon=True)
    waiting.start()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while steady.pid == first or steady.exit_code() is not None:
        assert time.monotonic() < deadline, f"not restarted: {reports}"
        time.sleep(0.05)
    assert psutil.Process(steady.pid).is_running()
    assert reports[0] == "steady exited with code -9; restarting it in 0.1 s (exit 1 in a row)"
    supervisor.request_stop(signal.SIGINT, None)
    waiting.join(timeout=5)
    assert not waiting.is_alive(), "a stop request ends the wait"
    supervisor.stop_all()
    assert not psutil.pid_exists(steady.pid) or psutil.Process(steady.pid).status() == "zombie"


def test_a_failing_child_that_stays_up_is_healthy_again(tmp_path: Path) -> None:
    reports: list[str] = []
    told: list[list[FailingChild]] = []
    policy = RestartPolicy(limit=2, first_delay=0.05, max_delay=0.1, stable_after=0.5)
    supervisor = Supervisor(
        dict(os.environ), grace=5, policy=policy, report=reports.append, on_failing=told.append
    )
    # Crashes on its first three starts, then stays up.
    starts = tmp_path / "starts"
    code = f"""
import pathlib, sys, time
starts = pathlib.Path({str(starts)!r})
starts.write_text(starts.read_text() + "x" if starts.exists() else "x")
if len(starts.read_text()) <= 3:
    sys.exit(1)
time.sleep(120)
"""
    flaky = supervisor.start(Child("flaky", python(code)))
    waiting = threading.Thread(target=supervisor.wait, args=(0.05,), daemon=True)
    waiting.start()
    wait_for(lambda: any("healthy" in r for r in reports), "flaky healthy again")
    assert [r for r in reports if "keeps failing" in r or "healthy" in r] == [
        "flaky keeps failing (2 exits in a row, last code 1): retrying it ever less often, "
        "at most every 0.1 s; the rest of the console keeps running",
        "flaky has stayed up 0.5 s: healthy",
    ]
    assert told[-1] == [], "the banner is cleared"
    assert flaky.failures == 0
    assert not flaky.failing
    supervisor.request_stop(signal.SIGINT, None)
    waiting.join(timeout=5)
    supervisor.stop_all()
