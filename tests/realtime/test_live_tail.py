"""The agent follows each engine log once a tick: events to the database, lines to the tail."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import pytest

from console.agent.loop import LIVE_LINE_CHARS, LIVE_TAIL_LINES, AgentLoop, live_tail
from console.models import EngineEvent, Instance
from engines.logparser import TailLines
from tests.console.conftest import create_instance

pytestmark = pytest.mark.django_db

SLEEP = (
    "(EngineCore_DP0 pid=212) INFO 03-14 09:20:14 [executor_base.py:189] "
    "It took 1.500000 seconds to fall asleep."
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "engine.log"


@pytest.fixture
def instance(sim_loop: AgentLoop, log: Path) -> Instance:
    return create_instance(host=sim_loop.host, log_path=str(log))


def append(path: Path, text: str) -> None:
    with open(path, "a") as file:  # not Path.open, which a test counts the reads of
        file.write(text)


def tailed(loop: AgentLoop) -> list[str]:
    """The lines the agent has queued for the live tail; the queue is then empty."""
    lines = [event["line"] for event in loop.live if event["type"] == "log.line"]
    loop.live.clear()
    return lines


class CountedReads:
    """A file whose reads add up the bytes they return."""

    def __init__(self, file: BinaryIO, counted: list[int]) -> None:
        self._file = file
        self._counted = counted

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._counted.append(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def test_a_log_found_at_agent_start_is_not_replayed(
    sim_loop: AgentLoop, instance: Instance, log: Path
) -> None:
    append(log, f"old line\n{SLEEP}\n")
    sim_loop.follow_log(instance)
    assert tailed(sim_loop) == []
    assert not EngineEvent.objects.exists()
    sim_loop.primed = True
    append(log, "new line\n")
    sim_loop.follow_log(instance)
    assert tailed(sim_loop) == ["new line"]


def test_a_log_that_appears_after_agent_start_is_read_from_its_top(
    sim_loop: AgentLoop, instance: Instance, log: Path
) -> None:
    sim_loop.follow_log(instance)
    sim_loop.primed = True
    append(log, f"INFO started\n{SLEEP}\n")
    sim_loop.follow_log(instance)
    assert tailed(sim_loop) == ["INFO started", SLEEP]
    assert list(EngineEvent.objects.values_list("kind", flat=True)) == ["sleep"]


def test_a_burst_is_cut_to_its_last_lines_after_a_marker(
    sim_loop: AgentLoop, instance: Instance, log: Path
) -> None:
    sim_loop.follow_log(instance)
    sim_loop.primed = True
    append(log, "".join(f"{n}\n" for n in range(LIVE_TAIL_LINES + 3)))
    sim_loop.follow_log(instance)
    lines = tailed(sim_loop)
    assert lines[:2] == ["[... 3 lines not shown]", "3"]
    assert len(lines) == LIVE_TAIL_LINES + 1


def test_a_long_line_is_cut_for_the_page() -> None:
    taken = TailLines(["x" * (LIVE_LINE_CHARS + 1), "short"], skipped=0)
    assert live_tail(taken) == ["x" * LIVE_LINE_CHARS, "short"]


def test_each_new_byte_of_the_log_is_read_once_per_tick(
    sim_loop: AgentLoop, instance: Instance, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[int] = []
    path_open = Path.open

    def open_counted(path: Path, *args: Any, **kwargs: Any) -> Any:
        file = path_open(path, *args, **kwargs)
        return CountedReads(file, counted) if path == log else file

    append(log, "history\n")
    monkeypatch.setattr(Path, "open", open_counted)
    sim_loop.follow_log(instance)
    sim_loop.primed = True
    counted.clear()
    new = f"new line\n{SLEEP}\n"
    append(log, new)
    sim_loop.follow_log(instance)
    assert sum(counted) == len(new.encode())
    assert tailed(sim_loop)[-1] == SLEEP
    assert EngineEvent.objects.count() == 1


def test_the_log_of_a_deleted_instance_is_closed(
    sim_loop: AgentLoop, instance: Instance, log: Path
) -> None:
    append(log, "a line\n")
    sim_loop.tick()
    tail = sim_loop.tails[instance.pk]
    assert tail._file is not None, "open while the instance exists"
    instance.delete()
    sim_loop.tick()
    assert instance.pk not in sim_loop.tails
    assert tail._file is None
