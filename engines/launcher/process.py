"""Process identity and process-group signals, on top of psutil.

An engine is started in its own session, so it leads a process group that also holds its
workers (vLLM's EngineCore and Worker processes are its children). Signalling the group
stops them together; signalling the leader alone could leave workers holding GPU memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

# psutil derives create_time from the boot time in /proc/stat, which NTP adjustments can
# move by up to a second; a reused pid would have to start within that window to match.
CREATE_TIME_TOLERANCE_S = 1.0


def create_time(pid: int) -> float | None:
    """When ``pid`` started (psutil epoch seconds); None if it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.NoSuchProcess:
        return None


def same_start(first: float, second: float) -> bool:
    """Whether two create times name the same process start."""
    return abs(first - second) <= CREATE_TIME_TOLERANCE_S


def is_same_process(pid: int, started: float) -> bool:
    """Whether ``pid`` is alive and is the process that started at ``started``."""
    current = create_time(pid)
    return current is not None and same_start(current, started)


def leader_group(pid: int) -> int | None:
    """``pid``'s process group when ``pid`` leads it (and it is not ours), else None."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    # Never the caller's own group, and never a group that ``pid`` merely belongs to.
    return group if group == pid and group != os.getpgrp() else None


def send_signal(pid: int, group: int | None, sig: signal.Signals) -> None:
    """Send ``sig`` to ``group`` when known (it outlives its leader), else to ``pid``."""
    with contextlib.suppress(ProcessLookupError):
        if group is not None:
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)


def group_alive(group: int) -> bool:
    """Whether any process of group ``group`` is still running (zombies do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def wait_group_gone(group: int, deadline: float, poll: float = 0.05) -> bool:
    """Wait until group ``group`` has no running process or ``deadline`` (monotonic) passes."""
    while group_alive(group):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def wait_exit(pid: int, deadline: float, poll: float = 0.05) -> bool:
    """Wait until ``pid`` is gone or a zombie, or ``deadline`` (monotonic) passes.

    For processes that are not our children (adopted after an agent restart), where
    ``waitpid`` is not available; a zombie has exited, whoever has yet to reap it.
    """
    while create_time(pid) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
