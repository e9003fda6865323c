"""When a started engine counts as ready, and what its startup log says about it.

Ready means: the process (or one of its children) listens on the engine's port AND
``GET /health`` answers 200. The listening check keeps a different server that already
holds the port (a stale engine, another user's) from passing for ours while ours is
still failing to bind. The figures come from the engine's own startup lines.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from engines.logparser import EngineLogEvent, EventKind, parse_text

_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class Readiness:
    """How an engine became ready.

    ``model_loaded_gib`` / ``model_load_seconds`` are per GPU ("Model loading took ..."
    is logged by each tensor-parallel worker; the largest is kept). ``url`` is the
    address the engine logged ("Starting vLLM API server 0 on http://0.0.0.0:8000"),
    ``base_url`` the one the launcher reached it at. Log figures are None when the
    line is absent (another vLLM version, or a log that was cut).
    """

    seconds_to_ready: float
    model_loaded_gib: float | None
    model_load_seconds: float | None
    kv_cache_tokens: int | None
    url: str | None
    base_url: str = ""


def reachable_host(host: str) -> str:
    """The address a local client uses for a server bound to ``host`` (wildcards → loopback)."""
    return _WILDCARD_HOSTS.get(host, host)


def base_url(host: str, port: int) -> str:
    """``http://host:port`` with IPv6 literals in brackets."""
    address = reachable_host(host)
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{port}"


def listens_on(pid: int, port: int) -> bool:
    """Whether ``pid`` or a descendant has a listening TCP socket on ``port``."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            try:
                connections = process.net_connections(kind="tcp")
            except psutil.AccessDenied:
                return True  # another user's process: trust /health alone
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
                return True
    return False


def health_ok(client: httpx.Client, url: str) -> bool:
    """Whether ``GET url/health`` answers 200 (any transport error counts as not yet)."""
    try:
        return client.get(f"{url}/health").status_code == 200
    except httpx.HTTPError:
        return False


def _last(events: list[EngineLogEvent], kind: EventKind) -> EngineLogEvent | None:
    matching = [event for event in events if event.event is kind]
    return matching[-1] if matching else None


def _largest(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def readiness_from_log(log_path: Path, seconds_to_ready: float, url: str) -> Readiness:
    """Build the ``Readiness`` of an engine whose startup log is ``log_path``."""
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    events = parse_text(text)
    loaded = [event for event in events if event.event is EventKind.MODEL_LOADED]
    # "Available KV cache memory" and "GPU KV cache size" are both kv_cache events.
    tokens = [e.tokens for e in events if e.event is EventKind.KV_CACHE and e.tokens is not None]
    started = _last(events, EventKind.SERVER_STARTED)
    return Readiness(
        seconds_to_ready=seconds_to_ready,
        model_loaded_gib=_largest([event.gib for event in loaded]),
        model_load_seconds=_largest([event.seconds for event in loaded]),
        kv_cache_tokens=tokens[-1] if tokens else None,
        url=started.url if started else None,
        base_url=url,
    )
