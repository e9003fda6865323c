"""What a job's steps' log lines add up to (no database: events as the agent stores them)."""

from __future__ import annotations

from console.jobs.evidence import job_figures, wake_figures, woke_kv_cache
from console.models import EngineEvent


def event(kind: str, **data: object) -> EngineEvent:
    return EngineEvent(kind=kind, data={"event": kind, **data})


def test_a_level_two_wake_counts_the_reload_its_line_reports() -> None:
    events = [
        event("wake", seconds=0.05, tags=["weights"], pid=7),
        event("reload", seconds=2.09, pid=7),
        event("wake", seconds=0.3, tags=["kv_cache"], pid=7),
    ]
    step = {"calls": {"reload_weights": 2.31}}
    assert wake_figures(events, step) == {"engine_seconds": 2.44, "reload_seconds": 2.09}


def test_without_a_reload_line_the_reload_calls_seconds_stand_in() -> None:
    events = [event("wake", seconds=0.05, tags=["weights"]), event("wake", seconds=0.3)]
    assert wake_figures(events, {"calls": {"reload_weights": 2.0}})["engine_seconds"] == 2.35


def test_a_level_two_wake_is_complete_with_its_kv_cache_line() -> None:
    weights = event("wake", seconds=0.05, tags=["weights"])
    assert not woke_kv_cache([weights])
    assert woke_kv_cache([weights, event("wake", seconds=0.3, tags=["kv_cache"])])


def test_still_in_use_is_the_devices_after_the_last_sleep_not_a_sum() -> None:
    steps = [
        {"step": "sleep", "engine_seconds": 0.3, "freed_gib": 76.0, "still_in_use_gib": 3.65},
        {"step": "wake", "engine_seconds": 0.4},
    ]
    figures = job_figures(steps)
    assert figures["still_in_use_gib"] == 3.65
    assert figures["engine_seconds"] == 0.7
    assert figures["freed_gib"] == 76.0
