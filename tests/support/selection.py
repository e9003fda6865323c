"""Which tests are integration tests: those that start processes, a browser or a GPU.

``scripts/test --fast`` runs the rest (``-m "not integration"``). Nobody marks tests by hand:
a test is an integration test when it carries ``browser``, ``slow`` or ``gpu``, or when its
function or any fixture it uses reaches something that starts a process (``subprocess``, the
engine launcher, the ``up`` supervisor, Playwright), directly or through helpers under
``tests``. A new helper that spawns something is found the same way.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import types
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from console.services.supervisor import Supervisor
from engines.launcher import Launcher

INTEGRATION_MARKERS = ("browser", "slow", "gpu")
_STARTERS: tuple[object, ...] = (
    subprocess,
    asyncio.create_subprocess_exec,
    asyncio.create_subprocess_shell,
    Launcher,
    Supervisor,
    sync_playwright,
)


class ProcessReach:
    """Follows the globals that code names, through helpers defined under ``tests``."""

    def __init__(self) -> None:
        self.known: dict[types.CodeType, bool] = {}

    def starts_processes(self, function: object) -> bool:
        function = inspect.unwrap(function)  # type: ignore[arg-type]
        code = getattr(function, "__code__", None)
        if code is None:
            return False
        return self._code(code, getattr(function, "__globals__", {}))

    def _code(self, code: types.CodeType, scope: dict[str, Any]) -> bool:
        if code not in self.known:
            self.known[code] = False  # a recursive helper ends the walk here
            self.known[code] = any(self._object(obj) for obj in _named(code, scope))
        return self.known[code]

    def _object(self, obj: object) -> bool:
        if any(obj is starter for starter in _STARTERS):
            return True
        if not getattr(obj, "__module__", "").startswith("tests."):
            return False
        if isinstance(obj, type):
            return any(self.starts_processes(member) for member in vars(obj).values())
        return self.starts_processes(obj)


def _named(code: types.CodeType, scope: dict[str, Any]) -> Iterator[object]:
    """The globals that ``code`` (with the functions nested in it) names."""
    for name in code.co_names:
        if name in scope:
            yield scope[name]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _named(const, scope)


def is_integration(item: pytest.Item, reach: ProcessReach) -> bool:
    if any(item.get_closest_marker(name) for name in INTEGRATION_MARKERS):
        return True
    functions = [getattr(item, "function", None)]
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is not None:
        for definitions in fixture_info.name2fixturedefs.values():
            functions.extend(definition.func for definition in definitions)
    return any(reach.starts_processes(function) for function in functions if function)


def mark_integration(items: list[pytest.Item]) -> None:
    """Add the ``integration`` marker to every test that needs processes."""
    reach = ProcessReach()
    for item in items:
        if is_integration(item, reach):
            item.add_marker(pytest.mark.integration)
