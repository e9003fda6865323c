"""Request heads and bodies are bounded, before authentication.

The web process ``manage.py up`` starts (its exact uvicorn options) refuses a 64 MB header
at once without growing; the gateway refuses heads bigger or longer than any client needs
before they could reach an engine, and bounds bodies however they are framed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_django import DjangoDbBlocker

from console.gateway.request import MAX_HEADER_BYTES, MAX_HEADERS
from console.services.up import UpOptions, web_child
from tests.gateway.conftest import bearer
from tests.support.console import console_process
from tests.support.emulator import free_port

MIB = 1 << 20
HUGE_HEADER_BYTES = 64 * MIB


@pytest.fixture(scope="module")
def web_process(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, int]]:
    """The web server as ``manage.py up`` runs it; yields its port and pid."""
    port = free_port()
    argv = web_child(UpOptions("127.0.0.1", port, demo=False)).argv[1:]  # less the python
    with django_db_blocker.unblock():
        data_dir = tmp_path_factory.mktemp("web-limits")
        with console_process(argv, data_dir, "web", "Uvicorn running on") as process:
            yield port, process.pid


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def send_huge_header(port: int) -> tuple[bytes, int]:
    """Send a request whose one header is 64 MB; returns what came back and bytes sent."""
    chunk = b"a" * MIB
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            while sent < HUGE_HEADER_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while sending: what we want
        try:
            return sock.recv(4096), sent
        except ConnectionResetError:
            return b"", sent


def test_a_64_mb_header_is_refused_at_once_and_the_web_process_does_not_grow(
    web_process: tuple[int, int],
) -> None:
    port, pid = web_process
    httpx.get(f"http://127.0.0.1:{port}/v1/models")  # starts the gateway's resources
    before = rss_bytes(pid)
    started = time.monotonic()
    for _ in range(4):
        answer, sent = send_huge_header(port)
        refused = answer == b"" or answer.split(b" ", 2)[1] in (b"400", b"431")
        assert refused, answer[:200]
        assert sent < HUGE_HEADER_BYTES, "the server read the whole header"
    assert time.monotonic() - started < 10
    grown = rss_bytes(pid) - before
    assert grown < 8 * MIB, f"the web process grew by {grown / MIB:.1f} MiB"
    assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401, "still serving"


def test_a_header_bigger_than_the_gateway_allows_is_431_before_authentication(
    gateway: str, inference_key: str
) -> None:
    headers = {**bearer(inference_key), "X-Big": "a" * (MAX_HEADER_BYTES + 1)}
    response = httpx.get(f"{gateway}/v1/models", headers=headers)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    anonymous = httpx.get(f"{gateway}/v1/models", headers={"X-Big": headers["X-Big"]})
    assert anonymous.status_code == 431


def test_more_headers_than_the_gateway_allows_is_431(gateway: str, inference_key: str) -> None:
    headers = [("Authorization", f"Bearer {inference_key}")]
    headers += [(f"X-Filler-{i}", "x") for i in range(MAX_HEADERS)]
    response = httpx.get(f"{gateway}/v1/models", headers=headers)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"


def test_an_ordinary_request_head_is_not_refused(gateway: str, inference_key: str) -> None:
    headers = [("Authorization", f"Bearer {inference_key}"), ("Cookie", "c" * 4000)]
    headers += [(f"X-Filler-{i}", "x") for i in range(40)]
    assert httpx.get(f"{gateway}/v1/models", headers=headers).status_code == 200


def test_a_chunked_body_over_the_limit_is_413(gateway: str, inference_key: str) -> None:
    """No Content-Length to check up front: the gateway counts what arrives."""
    port = int(gateway.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {inference_key}\r\nContent-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n").encode()  # fmt: skip
        sock.sendall(head)
        sender = threading.Thread(target=send_chunks, args=(sock, 40 * MIB), daemon=True)
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
        sender.join(timeout=30)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def send_chunks(sock: socket.socket, total: int) -> None:
    chunk = b"a" * MIB
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        for _ in range(total // MIB):
            sock.sendall(frame)
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        return  # refused while sending
