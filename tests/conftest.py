"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.support.emulator import EmulatorProcess, run_emulator

EmulatorFactory = Callable[..., AbstractContextManager[EmulatorProcess]]


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
