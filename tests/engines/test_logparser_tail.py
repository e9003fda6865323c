"""LogTail follows a real file (events and raw lines); stream_events reads a real pipe."""

from __future__ import annotations

import io
import os
from pathlib import Path

from engines.logparser import LogTail, TailLines, parse_text, stream_events
from engines.logparser.patterns import MAX_LINE_CHARS

SLEEP = (
    "(EngineCore_DP0 pid=212) INFO 03-14 09:20:14 [executor_base.py:189] "
    "It took {s} seconds to fall asleep.\n"
)


def sleep_line(seconds: float) -> str:
    return SLEEP.format(s=f"{seconds:.6f}")


def append(path: Path, data: str | bytes) -> None:
    with path.open("ab") as file:
        file.write(data.encode() if isinstance(data, str) else data)


def seconds(tail: LogTail) -> list[float | None]:
    return [event.seconds for event in tail.poll()]


def raw_lines(tail: LogTail) -> list[str]:
    tail.poll()
    return tail.take_lines().lines


def test_missing_file_gives_no_events_until_it_appears(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    with LogTail(log) as tail:
        assert tail.poll() == []
        append(log, sleep_line(1))
        assert seconds(tail) == [1.0]


def test_poll_returns_only_what_was_appended_since_the_last_poll(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, sleep_line(1))
    with LogTail(log) as tail:
        assert seconds(tail) == [1.0]
        assert seconds(tail) == []
        append(log, sleep_line(2) + sleep_line(3))
        assert seconds(tail) == [2.0, 3.0]


def test_unfinished_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    line = sleep_line(4)
    append(log, line[:50])
    with LogTail(log) as tail:
        assert tail.poll() == []
        append(log, line[50:])
        assert seconds(tail) == [4.0]


def test_multibyte_character_split_between_writes_is_decoded(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    data = ("Loading ██ 100%\r" + sleep_line(5)).encode()
    cut = data.index("█".encode()) + 1
    append(log, data[:cut])
    with LogTail(log) as tail:
        assert tail.poll() == []
        append(log, data[cut:])
        events = tail.poll()
    assert [e.seconds for e in events] == [5.0]


def test_invalid_utf8_does_not_stop_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, b"\xff\xfe\x00garbage\x80\n" + sleep_line(6).encode())
    with LogTail(log) as tail:
        assert seconds(tail) == [6.0]


def test_truncated_file_is_read_again_from_the_top(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, sleep_line(1) + sleep_line(2))
    with LogTail(log) as tail:
        assert seconds(tail) == [1.0, 2.0]
        with log.open("wb") as file:  # copytruncate: same inode, size 0
            file.write(sleep_line(7).encode())
        assert seconds(tail) == [7.0]


def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, sleep_line(1))
    with LogTail(log) as tail:
        assert seconds(tail) == [1.0]
        log.rename(tmp_path / "engine.log.1")
        append(tmp_path / "engine.log.1", sleep_line(2) + sleep_line(3)[:-1])
        append(log, sleep_line(4))
        assert seconds(tail) == [2.0, 3.0, 4.0]
        append(log, sleep_line(5))
        assert seconds(tail) == [5.0]


def test_removed_file_keeps_polling_without_error(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, sleep_line(1))
    with LogTail(log) as tail:
        assert seconds(tail) == [1.0]
        log.unlink()
        assert tail.poll() == []
        append(log, sleep_line(2))
        assert seconds(tail) == [2.0]


def test_tail_passes_the_year_to_the_timestamps(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, sleep_line(1))
    with LogTail(log, year=2020) as tail:
        (event,) = tail.poll()
    assert event.timestamp is not None
    assert event.timestamp.year == 2020


def test_stream_events_gives_the_events_of_parse_text() -> None:
    text = sleep_line(1) + "noise\r\n" + sleep_line(2)[:-1]
    batches = list(stream_events(io.BytesIO(text.encode()), year=2026))
    assert [event for batch in batches for event in batch] == parse_text(text, year=2026)


def test_stream_events_reports_a_line_before_the_pipe_closes() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
        writer.write(sleep_line(8).encode())
        writer.flush()
        batches = stream_events(reader)
        assert [event.seconds for event in next(batches)] == [8.0]


def test_take_lines_gives_every_raw_line_read_since_the_last_take(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "noise\r\n" + sleep_line(1))
    with LogTail(log, keep_lines=10) as tail:
        tail.poll()
        assert tail.take_lines() == TailLines(["noise", sleep_line(1)[:-1]], skipped=0)
        assert tail.take_lines() == TailLines([], skipped=0)


def test_lines_are_kept_only_when_asked_for(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "noise\n")
    with LogTail(log) as tail:
        tail.poll()
        assert tail.take_lines() == TailLines([], skipped=0)


def test_an_unfinished_raw_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "INFO half")
    with LogTail(log, keep_lines=10) as tail:
        assert raw_lines(tail) == []
        append(log, " done\nnext\n")
        assert raw_lines(tail) == ["INFO half done", "next"]


def test_a_redrawn_progress_bar_is_one_raw_line(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "Loading 50%\rLoading 100%\n")
    with LogTail(log, keep_lines=10) as tail:
        assert raw_lines(tail) == ["Loading 50%\rLoading 100%"]


def test_only_the_last_raw_lines_are_kept_and_the_others_counted(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "1\n2\n3\n")
    with LogTail(log, keep_lines=2) as tail:
        tail.poll()
        append(log, "4\n")
        tail.poll()
        assert tail.take_lines() == TailLines(["3", "4"], skipped=2)


def test_a_long_raw_line_is_cut_to_the_parsers_limit(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "x" * (MAX_LINE_CHARS + 10) + "\n")
    append(log, "y" * (MAX_LINE_CHARS + 10))
    with LogTail(log, keep_lines=10) as tail:
        tail.poll()
        append(log, "y\n")
        assert raw_lines(tail) == ["x" * MAX_LINE_CHARS, "y" * MAX_LINE_CHARS]


def test_invalid_utf8_reaches_the_raw_lines_replaced(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, b"bad \xff byte\n")
    with LogTail(log, keep_lines=10) as tail:
        assert raw_lines(tail) == ["bad \ufffd byte"]


def test_raw_lines_of_a_missing_file_start_when_it_appears(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    with LogTail(log, keep_lines=10) as tail:
        assert raw_lines(tail) == []
        append(log, "INFO started\n")
        assert raw_lines(tail) == ["INFO started"]


def test_raw_lines_of_a_truncated_file_start_again_from_the_top(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    append(log, "a long first line\nhalf")
    with LogTail(log, keep_lines=10) as tail:
        raw_lines(tail)
        log.write_text("b\n")  # copytruncate: same inode, shorter
        assert raw_lines(tail) == ["b"]


def test_raw_lines_of_a_rotated_file_finish_the_old_one_then_follow_the_new(
    tmp_path: Path,
) -> None:
    log = tmp_path / "engine.log"
    append(log, "first of old\n")
    with LogTail(log, keep_lines=10) as tail:
        raw_lines(tail)
        append(log, "last of old, unfinished")
        log.rename(tmp_path / "engine.log.1")
        append(log, "first of new\n")
        assert raw_lines(tail) == ["last of old, unfinished", "first of new"]
