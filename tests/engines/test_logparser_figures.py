"""What a sleep's or a wake's log lines add up to, on real vLLM lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.logparser import (
    EngineLogEvent,
    parse_text,
    sleep_figures,
    wake_figures,
    woke_kv_cache,
)

HERE = Path(__file__).parent
REAL_0_25 = HERE / "fixtures" / "real-vllm-0.25.0" / "engine-logs.txt"
TP2_0_12 = HERE / "corpus" / "v0.12.0-tp2-level2.log"


def real_lines(*numbers: int) -> list[EngineLogEvent]:
    """The events of the real vLLM 0.25.0 log's lines ``numbers`` (1-based)."""
    lines = REAL_0_25.read_text().splitlines()
    return parse_text("\n".join(lines[number - 1] for number in numbers))


def test_a_real_sleeps_freed_gib_come_from_the_cumem_line() -> None:
    figures = sleep_figures(real_lines(15, 16, 17))
    assert figures.seconds == 6.983909
    assert figures.freed_gib == 75.91  # CuMem's, not "Sleep mode freed 76.51"
    assert figures.backed_up_gib == 13.65
    assert figures.still_in_use_gib == 1.84


def test_without_a_cumem_line_sleep_mode_freed_gives_the_freed_gib() -> None:
    figures = sleep_figures(real_lines(16, 17))
    assert figures.freed_gib == 76.51
    assert figures.backed_up_gib is None


def test_a_sleep_without_lines_has_no_figures() -> None:
    figures = sleep_figures([])
    assert (figures.seconds, figures.freed_gib, figures.still_in_use_gib) == (None, None, None)


def test_a_real_level_two_wake_adds_its_two_lines_and_reports_the_reload() -> None:
    figures = wake_figures(real_lines(30, 32, 33))
    assert figures.seconds == round(0.036056 + 0.037456, 3)
    assert figures.reload_seconds == 2.09


def test_a_level_two_wake_is_complete_with_its_kv_cache_line() -> None:
    assert not woke_kv_cache(real_lines(30, 32))
    assert woke_kv_cache(real_lines(30, 32, 33))


def test_a_full_wake_line_is_complete() -> None:
    assert woke_kv_cache(real_lines(18))


def test_tensor_parallel_workers_gib_add_up_and_the_slowest_worker_stands() -> None:
    figures = sleep_figures(parse_text(TP2_0_12.read_text()))
    assert figures.freed_gib == round(70.09 + 70.1, 3)
    assert figures.backed_up_gib == 0.04
    assert figures.still_in_use_gib == round(2.14 + 2.15, 3)
    assert figures.seconds == 1.204511


def tp_wake_line(worker: int, seconds: float, tag: str) -> str:
    """A 0.25 wake line (its real format) as a tensor-parallel worker would print it."""
    return (
        f"(Worker_TP{worker} pid={300 + worker}) INFO 12-03 07:36:38 [abstract.py:345] "
        f"It took {seconds:.6f} seconds to wake up tags ['{tag}']."
    )


def test_tensor_parallel_wake_is_the_slowest_workers_lines_added() -> None:
    lines = [
        tp_wake_line(0, 0.1, "weights"),
        tp_wake_line(1, 0.2, "weights"),
        tp_wake_line(0, 0.3, "kv_cache"),
        tp_wake_line(1, 0.1, "kv_cache"),
    ]
    assert wake_figures(parse_text("\n".join(lines))).seconds == 0.4


@pytest.mark.parametrize("event", parse_text(REAL_0_25.read_text()), ids=lambda e: e.event)
def test_a_stored_event_reads_back_as_parsed(event: EngineLogEvent) -> None:
    assert EngineLogEvent.from_json_dict(event.to_json_dict(), event.line) == event


def test_a_kind_the_parser_does_not_report_reads_back_as_none() -> None:
    assert EngineLogEvent.from_json_dict({"event": "engine_died"}) is None
    assert EngineLogEvent.from_json_dict({}) is None


def test_a_figure_of_the_wrong_type_reads_back_as_not_printed() -> None:
    event = EngineLogEvent.from_json_dict({"event": "sleep", "seconds": "1.5", "pid": True})
    assert event is not None
    assert (event.seconds, event.pid) == (None, None)
