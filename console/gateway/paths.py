"""Which paths the gateway forwards: the OpenAI surface under ``/v1/``, nothing else.

The engine's dev endpoints (``/sleep``, ``/wake_up``, ``/collective_rpc``...) sit at its
root and are unauthenticated even with ``--api-key`` (vLLM checks keys only under ``/v1``),
so a path that could climb out of ``/v1/`` once decoded or normalised (``/v1/../sleep``,
``%2e%2e``, ``//``, backslashes) is refused outright rather than cleaned up.
"""

from __future__ import annotations

import re

from console.gateway.errors import GatewayError, not_found

PREFIX = "/v1/"
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*")
# Under /v1 but changing the engine rather than using it (vLLM's runtime LoRA loading).
REFUSED = frozenset({"load_lora_adapter", "unload_lora_adapter"})


def forwardable_path(path: str, raw_path: bytes | None) -> str:
    """The path to send to the engine, or ``GatewayError`` 404 when it is not ours to send."""
    for candidate in (path, raw_path.decode("latin-1") if raw_path is not None else path):
        _check(candidate)
    return path


def _check(path: str) -> None:
    if not path.startswith(PREFIX):
        raise _refused(path)
    segments = path[len(PREFIX) :].split("/")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise _refused(path)
    if segments[0] in REFUSED:
        raise _refused(path)


def _refused(path: str) -> GatewayError:
    return not_found(f"{path[:200]} is not an OpenAI endpoint of this gateway")
