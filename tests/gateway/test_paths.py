"""Paths that could reach the engine's dev endpoints never leave the gateway."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from console.gateway.errors import GatewayError
from console.gateway.paths import forwardable_path
from tests.gateway.conftest import register
from tests.support.emulator import EmulatorProcess

ESCAPES = ["/v1/../sleep", "/v1/%2e%2e/sleep", "/v1/%2E%2E/wake_up", "/v1//sleep",
           "/v1/./../collective_rpc", "/v1/models/..%2f..%2fsleep", "/v1/load_lora_adapter",
           "/v1/completions%2f..%2f..%2fsleep", "/v1/..\\sleep"]  # fmt: skip


@pytest.mark.parametrize("raw", ESCAPES)
def test_path_that_could_leave_v1_is_refused(raw: str) -> None:
    decoded = raw.replace("%2e", ".").replace("%2E", ".").replace("%2f", "/")
    with pytest.raises(GatewayError) as refused:
        forwardable_path(decoded, raw.encode())
    assert refused.value.status == 404


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions", "/v1/embeddings"])
def test_openai_paths_are_forwarded(path: str) -> None:
    assert forwardable_path(path, path.encode()) == path


def raw_request(base_url: str, target: str, key: str) -> tuple[int, bytes]:
    """Send a request line exactly as written (no client normalises the path)."""
    parts = urlsplit(base_url)
    body = json.dumps({"model": "test/alpha", "level": 1}).encode()
    head = (f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("target", ESCAPES[:6])
def test_dev_endpoints_are_never_reached_through_the_gateway(
    gateway: str, inference_key: str, alpha: EmulatorProcess, target: str
) -> None:
    register(alpha, "alpha")
    status, body = raw_request(gateway, target, inference_key)
    assert status == 404
    assert b'"error"' in body
    assert httpx.get(f"{alpha.url}/is_sleeping").json() == {"is_sleeping": False}
    assert "/sleep" not in alpha.log_text()
