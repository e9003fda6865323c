"""``scripts/test`` (``make test``) leaves no data directory of its own behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test"
# Stands in for the virtual environment's tools: records the data directory it was given.
# Given FAIL_ON, the call whose arguments hold it fails.
RECORDING_TOOL = """#!/bin/sh
echo "$CONSOLE_DATA_DIR" >> "$RECORD"
case "$*" in *"${FAIL_ON:-no such argument}"*) exit 1;; esac
"""


def stub_venv(root: Path) -> Path:
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "lint-imports"):
        (bin_dir / tool).write_text(RECORDING_TOOL)
        (bin_dir / tool).chmod(0o755)
    return bin_dir.parent


def run_lint_only(tmp_path: Path, **env: str) -> tuple[int, set[str]]:
    record = tmp_path / "record"
    environ = {k: v for k, v in os.environ.items() if k != "CONSOLE_DATA_DIR"}
    environ.update(VENV=str(stub_venv(tmp_path)), RECORD=str(record), **env)
    done = subprocess.run([SCRIPT, "--lint-only"], env=environ, capture_output=True, timeout=60)
    return done.returncode, set(record.read_text().split())


def test_the_data_directory_it_made_is_removed(tmp_path: Path) -> None:
    code, seen = run_lint_only(tmp_path)
    assert code == 0
    (made,) = seen
    assert made.startswith("/tmp/console-test.")
    assert not Path(made).exists()


def test_it_is_removed_when_a_step_fails(tmp_path: Path) -> None:
    code, seen = run_lint_only(tmp_path, FAIL_ON="makemigrations")
    assert code == 1
    assert seen
    assert not any(Path(made).exists() for made in seen)


def test_a_data_directory_given_to_it_stays(tmp_path: Path) -> None:
    given = tmp_path / "data"
    given.mkdir()
    code, seen = run_lint_only(tmp_path, CONSOLE_DATA_DIR=str(given))
    assert (code, seen) == (0, {str(given)})
    assert given.is_dir()
