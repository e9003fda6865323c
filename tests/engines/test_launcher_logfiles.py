"""The engine log's rotation and tail reading."""

from __future__ import annotations

from pathlib import Path

from engines.launcher.logfiles import last_lines, rotate_logs


def test_last_lines_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert last_lines(tmp_path / "engine.log") == []


def test_last_lines_of_a_long_log_skips_the_line_cut_by_the_seek(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("".join(f"line {n} " + "x" * 1000 + "\n" for n in range(100)))
    lines = last_lines(log, count=1000)
    assert lines[-1].startswith("line 99 ")
    assert all(line.startswith("line ") for line in lines)
    assert len(lines) < 100


def test_last_lines_keeps_undecodable_bytes_readable(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert last_lines(log) == ["ok", "\ufffd\ufffd broken"]


def test_rotation_without_a_log_creates_nothing(tmp_path: Path) -> None:
    rotate_logs(tmp_path / "engine.log")
    assert list(tmp_path.iterdir()) == []


def test_rotation_drops_the_oldest_copy(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    for run in range(4):
        rotate_logs(log, keep=2)
        log.write_text(f"run {run}")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "engine.log",
        "engine.log.1",
        "engine.log.2",
    ]
    assert log.with_name("engine.log.2").read_text() == "run 1"


def test_last_lines_redact_the_api_keys_vllm_prints_in_its_args(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text(
        "INFO [utils.py:233] non-default args: {'model': 'x', 'api_key': ['s3cret', 'k2'], "
        "'hf_token': 'hf_abc', 'port': 8000}\n"
    )
    (line,) = last_lines(log)
    assert line.endswith("{'model': 'x', 'api_key': '***', 'hf_token': '***', 'port': 8000}")
