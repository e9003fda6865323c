"""``manage.py parse_engine_log``: JSON lines with exactly the issue's keys, or a table."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "engines" / "corpus"
SLEEP_WAKE = CORPUS / "v0.11.0-sleep-wake.log"
CONTEXT = {"process", "pid", "timestamp"}
KEYS = {
    "sleep": {"event", "seconds"},
    "wake": {"event", "seconds", "tags"},
    "cumem_freed": {"event", "freed_gib", "backed_up_gib", "discarded_gib"},
    "sleep_freed": {"event", "freed_gib", "still_in_use_gib"},
    "model_loaded": {"event", "gib", "seconds"},
    "kv_cache": {"event", "tokens"},
    "server_started": {"event", "url"},
    "engine_dead": {"event"},
    "wake_oom": {"event"},
}


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("parse_engine_log", *args, stdout=out)
    return out.getvalue()


def json_events(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_json_output_is_the_expected_events_of_the_log() -> None:
    expected = SLEEP_WAKE.with_suffix(".expected.jsonl").read_text()
    assert json_events(run_command(str(SLEEP_WAKE), "--json", "--year", "2026")) == json_events(
        expected
    )


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.log")), ids=lambda path: path.stem)
def test_json_keys_are_exactly_the_figures_of_each_event(path: Path) -> None:
    for event in json_events(run_command(str(path), "--json")):
        kind = str(event["event"])
        assert set(event) - CONTEXT == KEYS[kind]


def test_json_tags_are_sorted() -> None:
    (wake,) = [
        e for e in json_events(run_command(str(SLEEP_WAKE), "--json")) if e["event"] == "wake"
    ]
    assert wake["tags"] == ["kv_cache", "weights"]


def test_table_has_a_header_and_one_aligned_row_per_event() -> None:
    header, *rows = run_command(str(SLEEP_WAKE), "--year", "2026").splitlines()
    assert header.split() == ["TIME", "PROCESS", "PID", "EVENT", "FIGURES"]
    assert len(rows) == 7
    column = header.index("FIGURES")
    assert all(row[column - 2 : column] == "  " and row[column] != " " for row in rows)
    assert rows[-1].split() == [
        "2026-03-14",
        "09:25:37",
        "EngineCore_DP0",
        "212",
        "wake",
        "seconds=0.318772",
        "tags=kv_cache,weights",
    ]


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(SLEEP_WAKE.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert len(json_events(run_command("-", "--json"))) == 7


def test_missing_file_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"no such log file: .*absent\.log"):
        run_command(str(tmp_path / "absent.log"))


def test_directory_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run_command(str(tmp_path))


def test_year_out_of_range_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="--year 0 is not a year"):
        run_command(str(SLEEP_WAKE), "--year", "0")


def manage(tmp_path: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env["CONSOLE_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", "parse_engine_log", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_command_line_reads_a_pipe_and_prints_json(tmp_path: Path) -> None:
    done = manage(tmp_path, "-", "--json", "--year", "2026", stdin=SLEEP_WAKE.read_bytes())
    assert done.returncode == 0, done.stderr
    expected = SLEEP_WAKE.with_suffix(".expected.jsonl").read_text()
    assert json_events(done.stdout.decode()) == json_events(expected)


def test_command_line_missing_file_prints_one_line_without_traceback(tmp_path: Path) -> None:
    done = manage(tmp_path, str(tmp_path / "absent.log"))
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"CommandError: no such log file: {tmp_path / 'absent.log'}"
    ]


def test_command_line_stops_quietly_when_the_reader_goes_away(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(SLEEP_WAKE.read_bytes() * 2000)  # ~1 MB of output, past any pipe buffer
    env = {**os.environ, "CONSOLE_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "manage.py", "parse_engine_log", str(big)]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline().startswith(b"TIME")
        child.stdout.close()
        stderr = child.stderr.read()
        assert child.wait(timeout=60) == 0
    assert stderr == b""
