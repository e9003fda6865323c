"""Background work gives way to a job's critical path (``console.critical``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from console import critical
from console.realtime import publisher
from console.realtime.messages import Event

# Long enough for a background thread to have run if nothing held it back.
SETTLE = 0.15


@contextmanager
def on_another_thread(block: Callable[[], Any]) -> Iterator[threading.Event]:
    """Run ``block`` (a context manager factory) in a thread until the caller's block ends;
    yields once the thread is inside it."""
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:
        with block():
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    try:
        yield inside
    finally:
        done.set()
        thread.join(5)


def test_give_way_returns_at_once_when_nothing_runs() -> None:
    assert critical.active() == 0
    assert critical.give_way(time.monotonic() + 5) is True


def test_give_way_waits_for_a_critical_path_on_another_thread() -> None:
    finished = threading.Event()

    def background() -> None:
        critical.give_way(time.monotonic() + 10)
        finished.set()

    with on_another_thread(critical.running):
        worker = threading.Thread(target=background)
        worker.start()
        assert not finished.wait(SETTLE), "background work ran during the critical path"
    assert finished.wait(5), "background work ran once the critical path ended"
    worker.join(5)


def test_give_way_runs_while_the_critical_path_waits_for_an_engine() -> None:
    def running_then_waiting() -> Any:
        @contextmanager
        def both() -> Iterator[None]:
            with critical.running(), critical.waiting():
                yield

        return both()

    with on_another_thread(running_then_waiting):
        assert critical.active() == 0
        assert critical.give_way(time.monotonic() + 5) is True


def test_patience_runs_out() -> None:
    with on_another_thread(critical.running):
        started = time.monotonic()
        assert critical.give_way(started + 0.05) is False
        assert time.monotonic() - started >= 0.05


def test_nested_blocks_count_once_and_waiting_outside_is_a_no_op() -> None:
    with critical.waiting():
        assert critical.active() == 0
    with critical.running():
        with critical.running():
            assert critical.active() == 1
        assert critical.active() == 1
        with critical.waiting(), critical.waiting():
            assert critical.active() == 0
        assert critical.active() == 1
    assert critical.active() == 0


def test_a_failing_block_still_ends_the_critical_path() -> None:
    with pytest.raises(RuntimeError), critical.running():
        raise RuntimeError("engine call failed")
    assert critical.active() == 0


def test_publications_wait_for_the_critical_path_then_go_in_order() -> None:
    produced: list[int] = []

    def produce(n: int) -> Callable[[], list[Event]]:
        def run() -> list[Event]:
            produced.append(n)
            return []

        return run

    with critical.running():
        publisher.submit(produce(1))
        publisher.submit(produce(2))
        assert not publisher.flush(SETTLE)
        assert produced == []
        with critical.waiting():  # an engine call: the publisher may run now
            assert publisher.flush(5)
            assert produced == [1, 2]
        publisher.submit(produce(3))
        assert not publisher.flush(SETTLE)
    assert publisher.flush(5)
    assert produced == [1, 2, 3]


def test_a_publication_goes_after_its_patience_even_if_the_path_never_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(critical, "PATIENCE_SECONDS", 0.05)
    produced = threading.Event()

    def produce() -> list[Event]:
        produced.set()
        return []

    with critical.running():
        publisher.submit(produce)
        assert produced.wait(5), "published after its patience ran out"


def test_other_celery_tasks_give_way_and_jobs_do_not() -> None:
    from console import tasks

    with on_another_thread(critical.running):
        started = time.monotonic()
        tasks.give_way_to_jobs(task=tasks.run_job)
        assert time.monotonic() - started < critical.PATIENCE_SECONDS / 2
        finished = threading.Event()

        def evidence_task_starts() -> None:
            tasks.give_way_to_jobs(task=tasks.attach_job_evidence)
            finished.set()

        background = threading.Thread(target=evidence_task_starts)
        background.start()
        assert not finished.wait(SETTLE), "the evidence task started during the critical path"
    assert finished.wait(5)
    background.join(5)


def test_an_engine_wait_pauses_the_path_once_and_only_on_it() -> None:
    critical.awaiting_engine(True)  # not on a critical path: nothing to pause
    assert critical.active() == 0
    critical.awaiting_engine(False)
    assert critical.active() == 0
    with critical.running():
        critical.awaiting_engine(True)
        assert critical.active() == 0
        critical.awaiting_engine(False)
        assert critical.active() == 1
        with critical.waiting():  # a wait around an engine call: the call changes nothing
            critical.awaiting_engine(True)
            critical.awaiting_engine(False)
            assert critical.active() == 0
        assert critical.active() == 1
    assert critical.active() == 0
