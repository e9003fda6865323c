"""Forward one admitted request to its engine and stream the answer back as it comes.

Chunks are passed on as the engine sends them (``aiter_raw``: no decoding, no buffering),
so SSE tokens reach the client one by one. Of the client's headers only those an engine
needs to answer are sent on (an allow-list): never its key, cookies, its own ``X-Api-Key``
or ``X-Forwarded-For``. The engine gets its own key, if it has one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from starlette.types import Send

from console.gateway.errors import GatewayError
from console.gateway.routes import Route
from console.gateway.usage import UsageMeter

Headers = list[tuple[bytes, bytes]]

# Per connection, or the gateway's to set: never copied from one side to the other.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                         b"proxy-authorization", b"te", b"trailer", b"transfer-encoding",
                         b"upgrade"})  # fmt: skip
# All of the client's headers an engine is sent; httpx sets host and content-length.
_TO_ENGINE = frozenset({b"content-type", b"accept", b"accept-encoding", b"user-agent"})


@dataclass(frozen=True)
class Upstream:
    """What to send to the engine."""

    method: str
    path: str
    query: bytes
    headers: Headers
    body: bytes


def upstream_headers(client_headers: Headers, api_key: str) -> Headers:
    headers = [(k, v) for k, v in client_headers if k.lower() in _TO_ENGINE]
    if not any(k.lower() == b"accept-encoding" for k, _ in headers):
        # Bodies are passed on undecoded: no encoding the client did not ask for
        # (httpx would otherwise ask for gzip on its behalf).
        headers.append((b"accept-encoding", b"identity"))
    if api_key:
        headers.append((b"authorization", b"Bearer " + api_key.encode()))
    return headers


def downstream_headers(engine_headers: Headers) -> Headers:
    return [(k, v) for k, v in engine_headers if k.lower() not in _HOP_BY_HOP]


async def forward(
    client: httpx.AsyncClient,
    route: Route,
    upstream: Upstream,
    send: Send,
    disconnected: asyncio.Event,
    meter: UsageMeter | None = None,
) -> int:
    """Send the request, stream the answer to ``send`` (through ``meter``, which reads its
    usage); returns the engine's status.

    Raises ``GatewayError`` (502/504) when the engine cannot be reached; once the answer
    has started, a broken engine connection just ends the body (the client sees it cut).
    """
    url = httpx.URL(route.base_url + upstream.path, query=upstream.query)
    request = client.build_request(
        upstream.method,
        url,
        headers=upstream_headers(upstream.headers, route.api_key),
        content=upstream.body,
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException as error:
        raise GatewayError(504, f"The engine did not answer: {error!r}", "server_error",
                           "engine_timeout") from error  # fmt: skip
    except httpx.TransportError as error:
        raise GatewayError(502, f"The engine cannot be reached: {error!r}", "server_error",
                           "engine_unreachable") from error  # fmt: skip
    try:
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": downstream_headers(response.headers.raw)})  # fmt: skip
        # An encoded answer is passed on as it is, unread (vLLM does not encode its answers).
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        complete = await _stream(response, send, disconnected, None if encoded else meter)
    finally:
        await response.aclose()
    return response.status_code if complete else 502


async def _stream(
    response: httpx.Response, send: Send, disconnected: asyncio.Event, meter: UsageMeter | None
) -> bool:
    """Pass the body on chunk by chunk; False when the engine broke off mid-answer."""
    try:
        async for chunk in response.aiter_raw():
            if disconnected.is_set():
                # Closing the engine's response makes vLLM abort the request.
                return True
            passed = meter.feed(chunk) if meter else chunk
            if passed:
                await send({"type": "http.response.body", "body": passed, "more_body": True})
    except httpx.TransportError:
        await send({"type": "http.response.body", "body": _rest(meter), "more_body": False})
        return False
    await send({"type": "http.response.body", "body": _rest(meter), "more_body": False})
    return True


def _rest(meter: UsageMeter | None) -> bytes:
    return meter.finish() if meter else b""
