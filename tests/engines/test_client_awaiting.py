"""The client says when a request is sent and its answer awaited (``awaiting``): the time a
caller's other threads may run (``console.critical``)."""

from __future__ import annotations

import threading

import pytest

from console import critical
from engines.client import EngineClient
from engines.errors import EngineError
from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, SharedEmulator
from tests.support.emulator import free_port


def test_each_call_is_awaited_once_between_sending_and_the_answer(
    shared_emulator: SharedEmulator,
) -> None:
    emu = shared_emulator()
    heard: list[bool] = []
    with EngineClient(emu.url, awaiting=heard.append) as client:
        assert client.health() is True
        assert client.is_sleeping() is False
    # /health, /version (first call learns it), /is_sleeping: one wait each, closed each time.
    assert heard == [True, False] * 3


def test_a_sleep_is_awaited_while_the_engine_works(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        heard: list[bool] = []
        with EngineClient(emu.url, awaiting=heard.append) as client:
            client.sleep(1)
            assert heard == [True, False, True, False]  # /version, then /sleep
            assert client.is_sleeping() is True


def test_an_error_answer_still_ends_the_wait(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator(dev_mode=None)  # no dev mode: /sleep is a 404
    heard: list[bool] = []
    with EngineClient(emu.url, awaiting=heard.append) as client, pytest.raises(EngineError):
        client.sleep(1)
    assert heard[-2:] == [True, False]
    assert heard.count(True) == heard.count(False)


def test_an_engine_that_is_not_there_is_never_awaited() -> None:
    heard: list[bool] = []
    url = f"http://127.0.0.1:{free_port()}"
    with EngineClient(url, awaiting=heard.append) as client, pytest.raises(EngineError):
        client.health()
    assert heard == []


def test_a_job_thread_lets_background_work_run_only_while_an_engine_works(
    shared_emulator: SharedEmulator,
) -> None:
    emu = shared_emulator()
    seen_active: list[int] = []

    def heard(awaiting: bool) -> None:
        critical.awaiting_engine(awaiting)
        seen_active.append(critical.active())

    def job() -> None:
        with critical.running(), EngineClient(emu.url, awaiting=heard) as client:
            client.health()
            seen_active.append(critical.active())

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(10)
    # Waiting for /health: no thread on its path; answered: this one again.
    assert seen_active == [0, 1, 1]
    assert critical.active() == 0
