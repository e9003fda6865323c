"""The data dir and what the console writes there are its user's only
(the attack pass found console.sqlite3 0644 in a 0755 dir)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.console.test_settings import manage
from tests.console.test_up import logged_in, run_up


def shared_with_others(data_dir: Path) -> list[str]:
    """Everything under ``data_dir`` (itself included) that group or others may use."""
    paths = [data_dir, *data_dir.rglob("*")]
    return [
        f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}"
        for p in paths
        if not p.is_symlink() and p.lstat().st_mode & 0o077
    ]


def test_a_start_makes_an_older_data_dir_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    for name in ("console.sqlite3", "console.sqlite3-wal", "logs/worker.log"):
        (data / name).write_text("")
        (data / name).chmod(0o644)
    data.chmod(0o755)
    (data / "logs").chmod(0o755)
    assert manage(data, "check").returncode == 0
    assert shared_with_others(data) == []


@pytest.mark.slow
def test_everything_up_writes_in_the_data_dir_is_private(tmp_path: Path) -> None:
    with run_up(tmp_path, "--no-demo") as console:
        # A signed-in request writes the session: the database and its WAL are in use.
        client = logged_in(console)
        assert client.get("/api/me/").status_code == 200
        data = tmp_path / "data"
        written = {p.name for p in data.rglob("*")}
        assert {"console.sqlite3", "console.sqlite3-wal", "secret_key", "redis.sock"} <= written
        assert {"redis.log", "worker.log", "agent.log"} <= written
        assert shared_with_others(data) == []


def test_a_data_dir_that_cannot_be_created_stops_the_start_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = manage(tmp_path, "check", CONSOLE_DATA_DIR=str(blocker / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: CONSOLE_DATA_DIR=")
    assert "Traceback" not in result.stderr
