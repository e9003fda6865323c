"""ASGI middleware: uvicorn's access lines (vLLM passes uvicorn a pre-bound socket and keeps
its access log) with the instrumentator's HTTP metrics, and ``--api-key`` on ``/v1`` only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from http import HTTPStatus

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.crash import log_uncaught
from emulator.metrics import EngineMetrics
from emulator.vlog import VllmLog

# Set in a request's scope by a route that plays an exception vLLM does not catch: the
# exception's text, logged (after the access line, as uvicorn does) and raised once the
# 500 is sent.
UNCAUGHT = "emulator.uncaught"


class UncaughtInAppError(Exception):
    """Raised after the 500 went out, so uvicorn closes the keep-alive connection."""


def mark_uncaught(scope: Scope, exception: str) -> None:
    """Answer this request as vLLM does for an uncaught exception (see ``AccessLog``)."""
    scope[UNCAUGHT] = exception


def _target(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return str(scope["path"]) + (f"?{query}" if query else "")


class AccessLog:
    """``INFO:     127.0.0.1:41872 - "POST /sleep?level=1 HTTP/1.1" 200 OK`` per request."""

    def __init__(self, app: ASGIApp, log: VllmLog, metrics: EngineMetrics, enabled: bool) -> None:
        self.app = app
        self.log = log
        self.metrics = metrics
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if self.enabled:
                    self._access_line(scope, status)
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.http_request(scope["path"], scope["method"], status, elapsed)
        exception = scope.get(UNCAUGHT)
        if exception is not None:
            # Starlette's ServerErrorMiddleware sends the 500 and re-raises; uvicorn then logs
            # "Exception in ASGI application" and closes the connection, without a
            # "Connection: close" header: a client's next call on that pooled connection can
            # fail although the engine is fine (seen on a real 0.25.0).
            log_uncaught(self.log, exception)
            raise UncaughtInAppError(exception)

    def _access_line(self, scope: Scope, status: int) -> None:
        host, port = scope.get("client") or ("-", 0)
        request = f'"{scope["method"]} {_target(scope)} HTTP/{scope["http_version"]}"'
        self.log.uvicorn(f"{host}:{port} - {request} {status} {HTTPStatus(status).phrase}")


class ApiKeyAuth:
    """Bearer-token check for the OpenAI paths only: /sleep etc. stay open
    (docs/vllm-behaviour.md §2.11)."""

    def __init__(self, app: ASGIApp, keys: Sequence[str], prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.expected = {f"Bearer {key}" for key in keys}
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._refused(scope):
            response = JSONResponse({"error": "Unauthorized"}, status_code=401)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refused(self, scope: Scope) -> bool:
        if not self.expected or scope["method"] == "OPTIONS":
            return False
        if not scope["path"].startswith(self.prefixes):
            return False
        headers = dict(scope.get("headers") or [])
        return headers.get(b"authorization", b"").decode("latin-1") not in self.expected
