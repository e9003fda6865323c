"""``scripts/test --fast`` runs only the unit tests; every pytest run is spread over workers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test"
# Stands in for the virtual environment's tools: records each call's arguments, one a line.
RECORDING_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "$RECORD"
"""


def run_script(tmp_path: Path, *args: str, **env: str) -> list[str]:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "lint-imports"):
        (bin_dir / tool).write_text(RECORDING_TOOL)
        (bin_dir / tool).chmod(0o755)
    record = tmp_path / "record"
    environ = {k: v for k, v in os.environ.items() if k not in ("CONSOLE_DATA_DIR", "REDIS_URL")}
    environ.update(VENV=str(bin_dir.parent), RECORD=str(record), **env)
    done = subprocess.run([SCRIPT, *args], env=environ, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return record.read_text().splitlines()


def pytest_calls(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("python -m pytest")]


def test_fast_runs_the_unit_tests_once_without_the_checks(tmp_path: Path) -> None:
    calls = run_script(tmp_path, "--fast", "-x")
    assert pytest_calls(calls) == [
        "python -m pytest -n auto --dist worksteal -m not integration -x"
    ]
    assert not [call for call in calls if "ruff" in call or "mypy" in call]
    assert "lint-imports" not in " ".join(calls)


def test_the_full_run_spreads_sqlite_and_postgresql_over_workers(tmp_path: Path) -> None:
    calls = run_script(tmp_path, TEST_WORKERS="6")
    assert pytest_calls(calls) == ["python -m pytest -n 6 --dist worksteal"] * 2
    assert any("ruff check" in call for call in calls)


def test_zero_workers_runs_in_pytests_own_process(tmp_path: Path) -> None:
    calls = run_script(tmp_path, "--fast", TEST_WORKERS="0")
    assert pytest_calls(calls) == ["python -m pytest -n 0 --dist worksteal -m not integration"]


def test_each_xdist_worker_has_its_own_redis_prefix() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        pytest.skip("runs under pytest-xdist only (scripts/test)")
    assert settings.REDIS_PREFIX.endswith(f":{worker}:")
