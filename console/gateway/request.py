"""Reading what the client sent: its head and body (bounded), its ``model``, its disconnection."""

from __future__ import annotations

import asyncio

from starlette.types import Receive

from console import jsondepth
from console.gateway.errors import GatewayError, bad_request
from console.gateway.proxy import Headers

# Deeper bodies are refused before an engine sees them; tool and response schemas nest a
# few tens of levels at most.
MAX_JSON_DEPTH = 128
# The web server refuses heads over 64 KiB (``manage.py up``'s uvicorn options); the
# gateway's own bound holds under any server and is what an engine may be sent at most.
MAX_HEADER_BYTES = 32 << 10
MAX_HEADERS = 100


class ClientGone(Exception):
    """The client disconnected before its request was read: nobody to answer."""


def check_head(headers: Headers) -> None:
    """Refuse (431) a request head larger or longer than any client needs."""
    size = sum(len(name) + len(value) for name, value in headers)
    if size > MAX_HEADER_BYTES or len(headers) > MAX_HEADERS:
        raise GatewayError(
            431, f"The request headers are over {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} "
            "fields.", "invalid_request_error", "headers_too_large",
        )  # fmt: skip


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"The request body is over {limit} bytes.",
                               "invalid_request_error", "body_too_large")  # fmt: skip
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def json_payload(body: bytes) -> dict[str, object]:
    """The body's JSON object ({} for an empty body or another JSON value)."""
    try:
        payload = jsondepth.loads(body, MAX_JSON_DEPTH) if body else None
    except jsondepth.TooDeep as error:
        raise bad_request(f"The request body is not usable: {error}.") from None
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    return payload if isinstance(payload, dict) else {}


def model_of(payload: dict[str, object]) -> str:
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("Say which model to use: the body needs a `model`.", param="model")
    return model


async def watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    """Set ``disconnected`` when the client goes away (after the body was read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return
