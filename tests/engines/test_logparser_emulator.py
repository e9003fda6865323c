"""The parser follows a real emulator's log while it starts, sleeps and wakes."""

from __future__ import annotations

import time

import httpx

from engines.logparser import EngineLogEvent, EventKind, LogTail
from tests.conftest import EmulatorFactory

FAST = ("--enable-sleep-mode", "--startup-seconds", "0", "--time-scale", "0.01")
SMALL = ("--weights-gib", "2", "--kv-cache-gib", "4")


def events_until(tail: LogTail, last: EventKind, count: int = 1) -> list[EngineLogEvent]:
    """Poll until ``count`` events of kind ``last`` arrived (the log may lag the HTTP reply)."""
    events: list[EngineLogEvent] = []
    deadline = time.monotonic() + 10
    while sum(event.event is last for event in events) < count:
        assert time.monotonic() < deadline, f"no {last} in the log: {events}"
        events += tail.poll()
        time.sleep(0.02)
    return events


def kinds(events: list[EngineLogEvent]) -> list[EventKind]:
    return [event.event for event in events]


def test_tail_reports_startup_sleep_and_wake_of_a_0_11_engine(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, *SMALL) as emu, LogTail(emu.log_path) as tail:
        started = events_until(tail, EventKind.SERVER_STARTED)
        httpx.post(f"{emu.url}/sleep", params={"level": 1}, timeout=30).raise_for_status()
        slept = events_until(tail, EventKind.SLEEP)
        httpx.post(f"{emu.url}/wake_up", timeout=30).raise_for_status()
        (woke,) = events_until(tail, EventKind.WAKE)
    assert kinds(started) == [EventKind.MODEL_LOADED, EventKind.KV_CACHE, EventKind.SERVER_STARTED]
    assert (started[0].gib, started[2].url) == (2.0, emu.url)
    assert kinds(slept) == [EventKind.CUMEM_FREED, EventKind.SLEEP_FREED, EventKind.SLEEP]
    assert slept[0].backed_up_gib == 2.0
    assert woke.tags == ("kv_cache", "weights")


def test_each_tensor_parallel_worker_of_a_0_33_engine_reports_its_sleep(
    emulator_factory: EmulatorFactory,
) -> None:
    tp2 = ("--tensor-parallel-size", "2")
    with (
        emulator_factory(*FAST, *SMALL, *tp2, version="0.33.0") as emu,
        LogTail(emu.log_path) as tail,
    ):
        events_until(tail, EventKind.SERVER_STARTED)
        httpx.post(f"{emu.url}/sleep", params={"level": 1}, timeout=30).raise_for_status()
        slept = events_until(tail, EventKind.SLEEP_FREED, count=2)
        httpx.post(f"{emu.url}/wake_up", params={"tags": "weights"}, timeout=30).raise_for_status()
        woke = events_until(tail, EventKind.WAKE)
    freed = [event.process for event in slept if event.event is EventKind.SLEEP_FREED]
    assert sorted(str(process) for process in freed) == ["Worker_TP0", "Worker_TP1"]
    assert [event.tags for event in woke if event.event is EventKind.WAKE] == [("weights",)]
