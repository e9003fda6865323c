"""A private ``redis-server`` for tests that stop and restart Redis (never the machine's)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


@contextmanager
def redis_server(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``redis-server`` on 127.0.0.1:``port``, in memory only (a restart loses its data)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while not _pings(client):
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {port} did not answer in 10 s")
            time.sleep(0.05)
        yield server
    finally:
        client.close()
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
