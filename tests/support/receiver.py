"""A local HTTP receiver for alerts: records each POST's JSON, answers the statuses queued."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver(ThreadingHTTPServer):
    """``statuses``: what the next POSTs get (then 200); ``received``: the bodies, in order."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Condition()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "hook", auth: str = "") -> str:
        return f"json://{auth}{'@' if auth else ''}127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """The first ``count`` bodies, once they have arrived (AssertionError past timeout)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} alerts in {timeout} s")
                self.arrived.wait(left)
            return list(self.received[:count])


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        if status == 200:
            with self.server.arrived:
                self.server.received.append(body)
                self.server.arrived.notify_all()
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
