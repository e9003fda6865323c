"""Following a log file line by line for the live tail."""

from __future__ import annotations

from pathlib import Path

from console.realtime.logfollow import LineFollower


def append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def test_a_missing_file_gives_nothing_until_it_appears(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    follower = LineFollower(log)
    assert follower.poll() == []
    log.write_text("")
    follower.poll()
    append(log, "INFO started\n")
    assert follower.poll() == ["INFO started"]


def test_what_was_there_before_following_is_skipped(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("old line\n")
    follower = LineFollower(log)
    assert follower.poll() == []
    append(log, "new line\n")
    assert follower.poll() == ["new line"]


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("")
    follower = LineFollower(log)
    follower.poll()
    append(log, "INFO half")
    assert follower.poll() == []
    append(log, " done\nnext\n")
    assert follower.poll() == ["INFO half done", "next"]


def test_a_truncated_file_is_read_again_from_the_top(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("")
    follower = LineFollower(log)
    follower.poll()
    append(log, "a long first line\n")
    follower.poll()
    log.write_text("b\n")
    assert follower.poll() == ["b"]


def test_a_rotated_file_is_finished_then_the_new_one_followed(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("")
    follower = LineFollower(log)
    follower.poll()
    append(log, "last of old\n")
    log.rename(tmp_path / "engine.log.1")
    log.write_text("first of new\n")
    assert follower.poll() == ["last of old", "first of new"]


def test_a_burst_is_cut_to_its_last_lines_with_a_marker(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("")
    follower = LineFollower(log, max_lines=2)
    follower.poll()
    append(log, "1\n2\n3\n4\n")
    assert follower.poll() == ["[... 2 lines not shown]", "3", "4"]
