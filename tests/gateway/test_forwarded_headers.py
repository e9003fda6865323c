"""The engine gets only the headers it needs, never the client's others.

Before, every client header but the hop-by-hop ones reached the engine unchanged: a
browser's ``Cookie: sessionid=...``, an ``X-Api-Key`` meant for something else, a forged
``X-Forwarded-For``. A small HTTP server in the test stands in for the engine and records
what it is sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from console.models import Instance, InstanceState
from tests.gateway.conftest import completion_body

# What an engine may see: the client's content negotiation, its user agent, the engine's
# own key, and what HTTP itself needs.
ALLOWED = {"host", "content-length", "content-type", "accept", "accept-encoding",
           "user-agent", "authorization", "connection"}  # fmt: skip
COMPLETION = {"id": "cmpl-1", "object": "text_completion", "model": "test/recorder",
              "choices": [{"index": 0, "text": " Paris", "finish_reason": "stop"}]}  # fmt: skip


class RecordingEngine(ThreadingHTTPServer):
    """Answers every POST with a completion and keeps the headers it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[list[tuple[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RecordingEngine

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append([(k.lower(), v) for k, v in self.headers.items()])
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder(transactional_db: None) -> Iterator[RecordingEngine]:
    engine = RecordingEngine()
    thread = threading.Thread(target=engine.serve_forever, daemon=True)
    thread.start()
    Instance.objects.create(name="recorder", served_model_name="test/recorder",
                            base_url=engine.url, api_key="engine-secret",
                            state=InstanceState.AWAKE)  # fmt: skip
    yield engine
    engine.shutdown()
    engine.server_close()


def test_only_the_headers_an_engine_needs_reach_it(
    gateway: str, inference_key: str, recorder: RecordingEngine
) -> None:
    headers = {
        "Authorization": f"Bearer {inference_key}",
        "Cookie": "sessionid=browser-session; csrftoken=t",
        "X-Api-Key": "another-services-key",
        "X-Forwarded-For": "203.0.113.9",
        "X-Custom": "anything",
        "User-Agent": "client/1.0",
        "Accept": "application/json",
    }
    response = httpx.post(f"{gateway}/v1/completions", json=completion_body("test/recorder"),
                          headers=headers, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    (sent,) = recorder.seen
    names = {name for name, _ in sent}
    assert names <= ALLOWED, f"not needed by an engine: {names - ALLOWED}"
    values = dict(sent)
    assert values["authorization"] == "Bearer engine-secret"
    assert values["user-agent"] == "client/1.0"
    assert values["content-type"] == "application/json"
    assert "browser-session" not in str(sent)
    assert inference_key not in str(sent)
