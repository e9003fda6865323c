"""A WebSocket test client on asgiref's ``ApplicationCommunicator``.

``channels.testing`` would do, but importing it imports daphne (its live-server helper),
which the console does not depend on; this is the part of its ``WebsocketCommunicator``
the tests use, with types.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator:
    """Drive an ASGI app through one WebSocket connection."""

    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "websocket", "path": path, "query_string": b"", "headers": headers,
                 "subprotocols": []}  # fmt: skip
        self._app: Any = ApplicationCommunicator(application, scope)  # type: ignore[no-untyped-call]

    async def connect(self, seconds: float = 5) -> tuple[bool, int | None]:
        """(True, None) when accepted, (False, close code) when refused at the handshake."""
        await self._app.send_input({"type": "websocket.connect"})
        response = await self.receive_output(seconds)
        if response["type"] == "websocket.close":
            return False, int(response.get("code", 1000))
        assert response["type"] == "websocket.accept"
        return True, None

    async def receive_output(self, seconds: float = 5) -> dict[str, Any]:
        message: dict[str, Any] = await self._app.receive_output(seconds)
        return message

    async def receive_json_from(self, seconds: float = 5) -> Any:
        response = await self.receive_output(seconds)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def receive_nothing(self, seconds: float = 0.3) -> bool:
        nothing: bool = await self._app.receive_nothing(seconds)
        return nothing

    async def disconnect(self, code: int = 1000, seconds: float = 1) -> None:
        await self._app.send_input({"type": "websocket.disconnect", "code": code})
        await self._app.wait(seconds)
