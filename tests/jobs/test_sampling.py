"""A job whose engine calls are done asks its host's agent for a GPU sample at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.agent.loop import AgentLoop
from console.jobs.sampling import ask_for_samples, listen_for_requests
from console.models import Host
from engines.probes.sim import SimGpuProbe


@pytest.fixture
def listening() -> Iterator[tuple[threading.Event, threading.Event]]:
    asked, stopped = threading.Event(), threading.Event()
    thread = threading.Thread(target=listen_for_requests, args=("gpu-7", asked, stopped))
    thread.start()
    yield asked, stopped
    stopped.set()
    thread.join(5)


def test_a_request_for_a_sample_reaches_the_hosts_agent(
    listening: tuple[threading.Event, threading.Event],
) -> None:
    asked, _ = listening
    deadline = time.monotonic() + 10
    # The subscription may not be in place yet: ask until it is heard.
    while not asked.is_set() and time.monotonic() < deadline:
        ask_for_samples(["gpu-7"])
        asked.wait(0.2)
    assert asked.is_set()


def test_another_hosts_request_is_not_heard(
    listening: tuple[threading.Event, threading.Event],
) -> None:
    asked, _ = listening
    ask_for_samples(["gpu-8"])
    assert not asked.wait(1.5)


@pytest.mark.django_db
def test_the_agent_ticks_at_once_when_asked_not_at_its_next_interval(tmp_path: Path) -> None:
    host = Host.objects.create(name="ticking")
    loop = AgentLoop(host=host, probe=SimGpuProbe(tmp_path), interval=3600)
    ticked = threading.Event()
    loop.tick = ticked.set  # type: ignore[method-assign]
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        assert not ticked.wait(0.3), "no tick before the interval or a request"
        loop.asked.set()
        assert ticked.wait(5)
    finally:
        loop.stopped.set()
        loop.asked.set()
        thread.join(5)
    assert not thread.is_alive()
