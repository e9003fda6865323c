"""Integration tests are found by what they reach, so ``--fast`` leaves out every one."""

from __future__ import annotations

import subprocess

import pytest

from engines.launcher import Launcher
from tests.support.selection import ProcessReach


def spawns() -> str:
    return subprocess.run(["echo", "hi"], capture_output=True, text=True, check=True).stdout


def calls_a_helper_that_spawns() -> str:
    return spawns().strip()


class Server:
    def start(self) -> str:
        return calls_a_helper_that_spawns()


def starts_a_server() -> str:
    return Server().start()


def counts_down(n: int) -> int:
    return counts_down(n - 1) if n else len("pure")


def launches() -> object:
    return Launcher


def nests_a_spawner() -> str:
    def inner() -> str:
        return spawns()

    return inner()


@pytest.mark.parametrize(
    "function", [spawns, calls_a_helper_that_spawns, starts_a_server, launches, nests_a_spawner]
)
def test_code_that_reaches_a_process_starter_through_helpers_starts_processes(
    function: object,
) -> None:
    assert ProcessReach().starts_processes(function)


def test_pure_and_recursive_code_starts_none() -> None:
    reach = ProcessReach()
    assert not reach.starts_processes(counts_down)
    assert not reach.starts_processes(len)


@pytest.fixture
def greeting() -> str:
    return spawns()


def test_a_test_whose_fixture_runs_a_process_is_marked(
    greeting: str, request: pytest.FixtureRequest
) -> None:
    assert greeting == "hi\n"
    assert request.node.get_closest_marker("integration") is not None


def test_a_test_that_runs_nothing_is_not_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is None


@pytest.mark.slow
def test_a_slow_test_is_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is not None
