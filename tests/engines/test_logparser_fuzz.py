"""Property tests: no input crashes the parser, and chunking never changes the events."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.logparser import EngineLogEvent, EventKind, LogParser, LogTail, parse_line, parse_text

CORPUS = Path(__file__).parent / "corpus"
REAL_LINES = [
    line
    for path in sorted(CORPUS.glob("*.log"))
    for line in path.read_text(encoding="utf-8").replace("\r", "\n").split("\n")
    if line
]
# Text that looks like logs: real lines, separators, colour codes and odd characters.
LOG_PIECES = st.one_of(
    st.sampled_from(REAL_LINES),
    st.sampled_from(["\n", "\r", "\r\n", "\x1b[1;36m", "\x1b[0;0m", "(Worker pid=1) ", " "]),
    st.text(max_size=40),
)
LOG_TEXT = st.lists(LOG_PIECES, max_size=30).map("".join)
FAST = settings(max_examples=150, deadline=None)


def assert_well_formed(event: EngineLogEvent) -> None:
    assert isinstance(event.event, EventKind)
    json.dumps(event.to_json_dict())


def feed_in_pieces(text: str, cuts: list[int]) -> list[EngineLogEvent]:
    parser = LogParser(year=2026)
    events: list[EngineLogEvent] = []
    start = 0
    for cut in sorted(cuts):
        events += parser.feed(text[start:cut])
        start = cut
    events += parser.feed(text[start:])
    return events + parser.flush()


@FAST
@given(st.text())
def test_arbitrary_text_never_crashes_parse_line(text: str) -> None:
    event = parse_line(text)
    if event is not None:
        assert_well_formed(event)


@FAST
@given(
    st.sampled_from(REAL_LINES),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 5), st.text(max_size=5)), max_size=6),
)
def test_mutated_real_lines_never_crash(line: str, edits: list[tuple[int, int, str]]) -> None:
    for position, removed, inserted in edits:
        cut = position % (len(line) + 1)
        line = line[:cut] + inserted + line[cut + removed :]
    for event in parse_text(line):
        assert_well_formed(event)


@FAST
@given(LOG_TEXT, st.lists(st.integers(0, 5000), max_size=12))
def test_feeding_any_split_gives_the_events_of_parse_text(text: str, cuts: list[int]) -> None:
    cuts = [cut % (len(text) + 1) for cut in cuts]
    assert feed_in_pieces(text, cuts) == parse_text(text, year=2026)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from(REAL_LINES))
def test_arbitrary_bytes_through_log_tail_match_the_decoded_text(
    writes: list[bytes], line: str
) -> None:
    writes = [*writes, line.encode()]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "engine.log"
        events: list[EngineLogEvent] = []
        with LogTail(log, year=2026) as tail:
            for data in writes:
                with log.open("ab") as file:
                    file.write(data)
                events += tail.poll()
    text = b"".join(writes).decode("utf-8", errors="replace")
    complete = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    assert events == parse_text(complete, year=2026)
