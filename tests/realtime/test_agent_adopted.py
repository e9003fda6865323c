"""How the agent finds an adopted engine's process and judges its log file."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.agent.adopted import AdoptedProcesses, is_local, listening_pid, log_readable
from console.models import Instance


@pytest.fixture
def listening() -> Iterator[int]:
    """A port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def adopted(url: str) -> Instance:
    return Instance(pk=1, name="by-hand", served_model_name="m", base_url=url)


def test_the_process_listening_on_the_port_is_found(listening: int) -> None:
    assert listening_pid(listening) == os.getpid()


def test_an_engine_on_this_hosts_port_is_found_with_how(listening: int) -> None:
    pid, why = AdoptedProcesses().pid_of(adopted(f"http://127.0.0.1:{listening}"))
    assert pid == os.getpid()
    assert f"listens on port {listening}" in why


def test_an_engine_on_another_machine_is_not_looked_for() -> None:
    pid, why = AdoptedProcesses().pid_of(adopted("http://gpu-elsewhere.example:8000"))
    assert pid is None
    assert "gpu-elsewhere.example is not this host's address" in why


def test_a_port_nobody_listens_on_says_why(listening: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    pid, why = AdoptedProcesses().pid_of(adopted(f"http://localhost:{free}"))
    assert pid is None
    assert f"listens on port {free}" in why


def test_loopback_addresses_and_this_hosts_name_are_local() -> None:
    local = {socket.gethostname().lower()}
    assert is_local("127.0.0.2", local)
    assert is_local("::1", local)
    assert is_local(socket.gethostname(), local)
    assert not is_local("10.255.255.1", local)


def test_a_log_the_agent_cannot_read_says_why(tmp_path: Path) -> None:
    log = tmp_path / "vllm.log"
    assert log_readable(str(log)) == (False, f"the agent finds no file {log}")
    log.write_text("")
    assert log_readable(str(log)) == (True, f"the agent follows {log}")
