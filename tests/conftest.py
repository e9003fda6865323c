"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.db import connection
from pytest_django import DjangoDbBlocker

from tests.support.emulator import EmulatorProcess, run_emulator
from tests.support.selection import mark_integration

EmulatorFactory = Callable[..., AbstractContextManager[EmulatorProcess]]

_DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "django_user_model"}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the integration tests; with CONSOLE_TEST_DB_ONLY=1 (the PostgreSQL run), keep only
    tests that use the database."""
    mark_integration(items)
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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """pytest-django's test database, dropped only once nothing else is connected to it.

    On PostgreSQL the drop failed with "is being accessed by other users" and left the
    database behind: the session's subprocesses (gateways, workers, web servers) are
    stopped just before it, and their backends outlive them by a few milliseconds; and
    worker threads of this very process (seen: two idle connections owned by the xdist
    worker after tests/gateway, likely the async tests' ``sync_to_async`` pools) keep
    connections that only they could close.
    """
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            _let_other_sessions_leave()


def _let_other_sessions_leave(patience: float = 2.0) -> None:
    """Wait for the test database's other sessions to end; end those still there after
    ``patience`` seconds (what ``DROP DATABASE ... WITH (FORCE)`` would do)."""
    others = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + patience
    with connection.cursor() as cursor:
        while True:
            cursor.execute(others)
            pids = [row[0] for row in cursor.fetchall()]
            if not pids:
                break
            if time.monotonic() > deadline:
                cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o")
                break
            time.sleep(0.05)
    connection.close()


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
