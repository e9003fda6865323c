"""Whole real-shaped logs: each corpus file gives exactly its expected events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.logparser import LogParser, parse_text

CORPUS = Path(__file__).parent / "corpus"
LOGS = sorted(CORPUS.glob("*.log"))


def read_log(path: Path) -> str:
    # newline="" keeps the "\r\n" and "\r" the file really holds.
    with path.open(encoding="utf-8", newline="") as file:
        return file.read()


def expected(path: Path) -> list[dict[str, object]]:
    lines = path.with_suffix(".expected.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def as_json(text: str) -> list[dict[str, object]]:
    return [event.to_json_dict() for event in parse_text(text, year=2026)]


def test_corpus_has_a_file_for_every_record_format() -> None:
    names = {path.name for path in LOGS}
    assert {
        "v0.7.3-v0-engine.log",
        "v0.11.0-sleep-wake.log",
        "v0.11.0-debug-prefix.log",
        "v0.12.0-tp2-level2.log",
        "v0.16.0-colour-wake-oom.log",
        "v0.33.0-record-prefix.log",
        "v0.25.0-h200-real.log",  # a real 0.25.0 (no "memory" in Model loading)
    } <= names


@pytest.mark.parametrize("path", LOGS, ids=lambda path: path.stem)
def test_corpus_file_gives_its_expected_events(path: Path) -> None:
    assert as_json(read_log(path)) == expected(path)


@pytest.mark.parametrize("path", LOGS, ids=lambda path: path.stem)
def test_corpus_with_crlf_line_ends_gives_the_same_events(path: Path) -> None:
    text = read_log(path).replace("\r\n", "\n").replace("\n", "\r\n")
    assert as_json(text) == expected(path)


@pytest.mark.parametrize("path", LOGS, ids=lambda path: path.stem)
def test_corpus_fed_in_small_chunks_gives_the_events_of_parse_text(path: Path) -> None:
    text = read_log(path)
    parser = LogParser(year=2026)
    events = []
    for start in range(0, len(text), 7):
        events += parser.feed(text[start : start + 7])
    events += parser.flush()
    assert events == parse_text(text, year=2026)


def test_tensor_parallel_workers_each_report_their_own_sleep() -> None:
    events = parse_text(read_log(CORPUS / "v0.12.0-tp2-level2.log"), year=2026)
    freed = {(e.process, e.pid): e.freed_gib for e in events if e.event == "sleep_freed"}
    assert freed == {("Worker_TP0", 301): 70.31, ("Worker_TP1", 302): 70.3}


def test_progress_bar_overwrites_do_not_hide_the_next_record() -> None:
    text = (
        "(Worker pid=1) Loading safetensors checkpoint shards:  50% | 1/2\r"
        "(Worker pid=1) INFO 03-14 09:10:31 [gpu_model_runner.py:2653] "
        "Model loading took 61.0350 GiB and 9.120512 seconds\r\n"
    )
    assert [e.gib for e in parse_text(text)] == [61.035]
