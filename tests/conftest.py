"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.support.emulator import EmulatorProcess, run_emulator

EmulatorFactory = Callable[..., AbstractContextManager[EmulatorProcess]]

_DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "django_user_model"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With CONSOLE_TEST_DB_ONLY=1 (the PostgreSQL run), keep only tests that use the database."""
    if os.environ.get("CONSOLE_TEST_DB_ONLY") != "1":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        uses_db = item.get_closest_marker("django_db") is not None or bool(fixtures & _DB_FIXTURES)
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def emulator_factory(tmp_path: Path) -> EmulatorFactory:
    """``with emulator_factory("--enable-sleep-mode", version="0.17.0") as emu: ...``"""

    def start(*args: str, **kwargs: object) -> AbstractContextManager[EmulatorProcess]:
        return run_emulator(tmp_path, *args, **kwargs)  # type: ignore[arg-type]

    return start


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Iterator[EmulatorProcess]:
    """A 0.11.0 emulator with dev mode and sleep mode on, small and fast."""
    with emulator_factory(
        "--enable-sleep-mode", "--weights-gib", "2", "--kv-cache-gib", "4", "--startup-seconds", "0"
    ) as emu:
        yield emu
