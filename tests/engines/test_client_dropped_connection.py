"""After an endpoint answers 500, uvicorn closes that keep-alive connection (no "Connection:
close"): the next call on the pooled connection can fail although the engine is fine (a
real vLLM 0.25.0 on an H200). Idempotent calls are sent once more on a fresh connection;
sleeps and wakes never twice.

The race itself (the request leaves before the close is seen) cannot be produced on demand
by a real server, so the deterministic tests use a small HTTP server that drops the second
request of every connection; the emulator test checks the whole path against the 500.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engines.client import EngineClient
from engines.errors import EngineError, EngineUnreachable
from engines.versions import VllmVersion
from tests.engines.conftest import FAST
from tests.support.emulator import run_emulator

V025 = VllmVersion(0, 25, 0)


@dataclass
class DroppingServer:
    """Answers the first request of each connection; reads the second and hangs up."""

    url: str
    requests: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    dropped: int = 0


def _read_request(conn: socket.socket) -> str | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head.split(b" ")[1].decode().split("?")[0]


def _answer(path: str) -> bytes:
    body = json.dumps({"is_sleeping": False}).encode() if path == "/is_sleeping" else b""
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _serve(listener: socket.socket, server: DroppingServer, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.settimeout(None)
        server.connections += 1
        with conn:
            path = _read_request(conn)
            if path is None:
                continue
            server.requests[path] += 1
            conn.sendall(_answer(path))
            second = _read_request(conn)
            if second is not None:
                server.requests[second] += 1
                server.dropped += 1  # closed without a word, as after an ASGI exception


@contextmanager
def dropping_server() -> Iterator[DroppingServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    server = DroppingServer(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(listener, server, stop), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_an_idempotent_call_on_a_dropped_connection_is_retried_on_a_fresh_one() -> None:
    with dropping_server() as server, EngineClient(server.url, version=V025) as client:
        assert client.is_sleeping() is False
        assert client.is_sleeping() is False  # dropped on the first connection, then resent
    assert (server.dropped, server.connections) == (1, 2)
    assert server.requests["/is_sleeping"] == 3


def test_a_sleep_on_a_dropped_connection_is_never_sent_twice() -> None:
    with dropping_server() as server, EngineClient(server.url, version=V025) as client:
        client.is_sleeping()
        with pytest.raises(EngineUnreachable):
            client.sleep(1)
    assert server.requests["/sleep"] == 1


def test_the_call_after_a_500_succeeds_against_the_emulator(tmp_path: Path) -> None:
    """vLLM 0.25's dummy-loaded model refuses reload_weights with a 500 and a closed socket."""
    args = (*FAST, "--load-format", "dummy")
    with (
        run_emulator(tmp_path, *args, version="0.25.0") as emulator,
        EngineClient(emulator.url) as client,
    ):
        client.sleep(2)
        client.wake(["weights"])
        with pytest.raises(EngineError, match="dummy"):
            client.collective_rpc("reload_weights")
        assert client.is_sleeping() is True
        assert client.health() is True
