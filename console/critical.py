"""The critical path of a sleep, wake or switch, and the background work that gives way to it.

Between a click or a held request and the engine calls nothing waits (DESIGN.md), the
interpreter included. A process's background threads (the realtime publisher, an evidence
task on another worker thread) read the database and talk to Redis for a few milliseconds
at a time, holding the GIL that the critical path then waits for: measured on the 2-core
VM, each state change's publication put 2-5 ms into the next step of the switch that made
it.

Code on the critical path runs inside ``running()``; its engine client says when a request
is sent and its answer awaited (``awaiting_engine``), and other waits run in ``waiting()``:
background work calls ``give_way`` before each piece of work, which
returns once no thread of this process is on its critical path outside a wait, or when its
patience runs out (a page then learns of a move a little later; nothing is lost).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# How long a piece of background work waits at most for the critical path to pause.
PATIENCE_SECONDS = 1.0

_changed = threading.Condition()
_active = 0  # threads on their critical path, not waiting for an engine


class _Thread(threading.local):
    depth = 0
    waiting = False
    engine_paused = False


_thread = _Thread()


def _count(step: int) -> None:
    global _active
    with _changed:
        _active += step
        if _active == 0:
            _changed.notify_all()


@contextmanager
def running() -> Iterator[None]:
    """This thread is on its critical path for the block (nested blocks count once)."""
    _thread.depth += 1
    if _thread.depth == 1:
        _count(1)
    try:
        yield
    finally:
        _thread.depth -= 1
        if _thread.depth == 0:
            _count(-1)


def _pause() -> bool:
    """This thread's critical path waits from now (False: not on one, or waiting already)."""
    if _thread.depth == 0 or _thread.waiting:
        return False
    _thread.waiting = True
    _count(-1)
    return True


def _resume() -> None:
    _thread.waiting = False
    _count(1)


@contextmanager
def waiting() -> Iterator[None]:
    """The critical path waits (in-flight requests, a retry's pause): background work may run.

    Outside ``running()`` (a sleep called by other code) it changes nothing.
    """
    paused = _pause()
    try:
        yield
    finally:
        if paused:
            _resume()


def awaiting_engine(awaiting: bool) -> None:
    """An engine client's ``awaiting``: from the moment a request is written until its
    answer comes, background work may run. Not before: a publication that starts while the
    request is being sent takes the GIL from it (measured: the sleep call reached the
    emulator 3-7 ms after it was made, against 1 ms without)."""
    if awaiting:
        _thread.engine_paused = _pause()
    elif _thread.engine_paused:
        _thread.engine_paused = False
        _resume()


def active() -> int:
    """How many threads of this process are on their critical path now, outside a wait."""
    with _changed:
        return _active


def give_way(deadline: float | None = None) -> bool:
    """Wait until no critical path runs here, or until ``deadline`` (``time.monotonic()``;
    ``PATIENCE_SECONDS`` from now by default); False when the patience ran out."""
    until = time.monotonic() + PATIENCE_SECONDS if deadline is None else deadline
    with _changed:
        return _changed.wait_for(lambda: _active == 0, timeout=max(0.0, until - time.monotonic()))
