"""Settings: typed readers that fail loudly, and a start that stops with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.env import ConfigError, Env, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    child_env.pop("DATABASE_URL", None)
    child_env.update(
        {"CONSOLE_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "console.settings", **env}
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CONSOLE_DEBUG", "maybe", "CONSOLE_DEBUG='maybe' is not a boolean"),
        ("DATABASE_URL", "mysql://db/console", "DATABASE_URL='mysql://db/console': unknown scheme"),
        ("DATABASE_URL", "postgres://u@h:port/db", "the port is not a number"),
        ("CONSOLE_ENGINE_TIMEOUT", "soon", "CONSOLE_ENGINE_TIMEOUT='soon' is not a number"),
    ],
)
def test_bad_setting_stops_the_start_with_one_line(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = manage(tmp_path, "check", **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", CONSOLE_PRODUCTION="1")
    assert result.returncode == 2
    assert "CONSOLE_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_placeholder_secret_key(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", CONSOLE_PRODUCTION="1", CONSOLE_SECRET_KEY="change-me")
    assert result.returncode == 2
    assert "placeholder" in result.stderr


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    assert manage(tmp_path, "check").returncode == 0
    key_file = tmp_path / "secret_key"
    first = key_file.read_text()
    assert manage(tmp_path, "check").returncode == 0
    assert key_file.read_text() == first
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o077 == 0


def test_database_password_never_appears_in_an_error() -> None:
    with pytest.raises(ConfigError) as error:
        parse_database_url("postgres://u:hunter2@h:nope/db")
    assert "hunter2" not in str(error.value)


def test_postgres_url_becomes_django_settings() -> None:
    config = parse_database_url("postgres://me:p%40ss@db.local:5433/console?sslmode=require")
    assert config == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "console",
        "USER": "me",
        "PASSWORD": "p@ss",
        "HOST": "db.local",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }


def test_sqlite_url_keeps_an_absolute_path() -> None:
    assert parse_database_url("sqlite:////var/lib/console/db.sqlite3")["NAME"] == (
        "/var/lib/console/db.sqlite3"
    )


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("off", False), ("Yes", True)])
def test_boolean_reader_accepts_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Env({"FLAG": raw}).boolean("FLAG", not expected) is expected


def test_integer_reader_enforces_its_minimum() -> None:
    with pytest.raises(ConfigError, match="must be at least 1"):
        Env({"N": "0"}).integer("N", 5, minimum=1)


def test_list_reader_splits_on_commas_and_drops_blanks() -> None:
    assert Env({"HOSTS": " a.example , ,b "}).strings("HOSTS", []) == ["a.example", "b"]
