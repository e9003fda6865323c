"""Run the emulator with TCP_NODELAY on its connections (``bench/gateway.py --engine-nodelay``).

The emulator binds its listening socket as ``socket.socket(family)`` (protocol 0), and
asyncio sets TCP_NODELAY on accepted connections only when the protocol is IPPROTO_TCP,
so every keep-alive response waits about 40 ms for the client's delayed ACK (Nagle). That
stall is paid by direct calls and gateway calls alike and hides the gateway's own cost;
this wrapper creates TCP sockets with IPPROTO_TCP and otherwise runs the emulator as is.

    python bench/gateway_engine.py serve MODEL --port 8000 ...
"""

from __future__ import annotations

import runpy
import socket
import sys

_Socket = socket.socket


class _TcpSocket(_Socket):
    """``socket.socket`` whose stream sockets name their protocol (so asyncio sets NODELAY)."""

    def __init__(
        self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None
    ) -> None:
        inet = family in (socket.AF_INET, socket.AF_INET6)
        if fileno is None and inet and type in (-1, socket.SOCK_STREAM) and proto in (-1, 0):
            type, proto = socket.SOCK_STREAM, socket.IPPROTO_TCP
        super().__init__(family, type, proto, fileno)


if __name__ == "__main__":
    socket.socket = _TcpSocket  # type: ignore[misc]
    sys.argv = ["engines.emulator", *sys.argv[1:]]
    runpy.run_module("engines.emulator", run_name="__main__", alter_sys=True)
