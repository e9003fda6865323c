"""What the server's answers mean: HTTP failures as typed errors, bodies as values.

Pure functions over ``httpx`` values, tested without a server.
"""

from __future__ import annotations

import json

import httpx

from engines.client.calls import Call
from engines.errors import (
    DevModeOff,
    EngineBadRequest,
    EngineBusy,
    EngineDead,
    EngineError,
    EngineServerError,
    EngineTimeout,
    EngineUnauthorized,
    EngineUnreachable,
    SleepModeDisabled,
    WakeOutOfMemory,
)
from engines.versions import Features, VllmVersion

# EngineDeadError's text: 0.11.0 (v1/engine/exceptions.py:12) and 0.33.0 (:22), and the
# V0 engine's (docs/vllm-behaviour.md §4, §5.5).
_DEAD_ENGINE_TEXTS = (
    "EngineCore encountered an issue",
    "The server had an error while processing your request",
    "Engine loop has died",
    "MQLLMEngine is already dead",
)
# 0.33's /pause rejects generation with 503 and code engine_paused (docs/vllm-behaviour.md §2.7).
_PAUSED_TEXTS = ("engine_paused", "Generation is paused")
# RuntimeError: CUDA Error: out of memory at .../cumem_allocator.cpp:NN
# (docs/vllm-behaviour.md §2.4).
_OOM_TEXT = "out of memory"
# The V0 engine's assertion when sleep is called without --enable-sleep-mode.
_SLEEP_DISABLED_TEXT = "sleep mode is not enabled"
_MESSAGE_LIMIT = 500


def transport_error(call: Call, url: str, exc: Exception) -> EngineError:
    """The typed error for a request that got no HTTP answer."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return EngineTimeout(f"no answer in time ({detail})", url=url, operation=call.operation)
    # A malformed base URL or scheme is configuration: retrying cannot help.
    fixable = not isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL)
    return EngineUnreachable(
        f"cannot reach the engine ({detail})",
        url=url,
        operation=call.operation,
        retryable=fixable,
    )


def server_message(response: httpx.Response) -> str:
    """The error text of vLLM's or FastAPI's error bodies, else the raw body, shortened."""
    text = response.text
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip()[:_MESSAGE_LIMIT]
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:_MESSAGE_LIMIT]
    return text.strip()[:_MESSAGE_LIMIT]


def raise_for_status(call: Call, url: str, response: httpx.Response) -> None:
    """Raise the typed error that explains a non-2xx answer."""
    status = response.status_code
    if status < 400:
        return
    message = server_message(response)
    kind = _error_kind(call, status, message)
    raise kind(message or response.reason_phrase, url=url, operation=call.operation, status=status)


def _error_kind(call: Call, status: int, message: str) -> type[EngineError]:
    if status == 401:
        return EngineUnauthorized
    if status == 404 and call.dev:
        return DevModeOff
    if status < 500:
        return EngineBadRequest
    if status == 503:
        return EngineBusy if _mentions(message, _PAUSED_TEXTS) else EngineDead
    if status in (502, 504):
        return EngineUnreachable  # a proxy in front of the engine could not reach it
    if call.wakes and _OOM_TEXT in message.lower():
        return WakeOutOfMemory
    if _SLEEP_DISABLED_TEXT in message.lower():
        return SleepModeDisabled
    if _mentions(message, _DEAD_ENGINE_TEXTS):
        return EngineDead
    return EngineServerError


def _mentions(message: str, needles: tuple[str, ...]) -> bool:
    return any(needle in message for needle in needles)


def _malformed(call: Call, url: str, what: str, response: httpx.Response) -> EngineServerError:
    body = response.text[:200]
    return EngineServerError(
        f"unexpected answer, {what}: {body!r}", url=url, operation=call.operation
    )


def json_object(call: Call, url: str, response: httpx.Response) -> dict[str, object]:
    """The body as a JSON object, or EngineServerError."""
    try:
        payload = response.json()
    except ValueError:
        raise _malformed(call, url, "not JSON", response) from None
    if not isinstance(payload, dict):
        raise _malformed(call, url, "not a JSON object", response)
    return payload


def parse_version(call: Call, url: str, response: httpx.Response) -> VllmVersion:
    text = json_object(call, url, response).get("version")
    try:
        return VllmVersion.parse(str(text))
    except ValueError:
        raise _malformed(call, url, "no vLLM version", response) from None


def parse_models(call: Call, url: str, response: httpx.Response) -> list[str]:
    """The served model names: cards without a ``parent`` (LoRA adapters have one)."""
    cards = json_object(call, url, response).get("data")
    if not isinstance(cards, list) or not all(isinstance(card, dict) for card in cards):
        raise _malformed(call, url, "no model list", response)
    return [str(card.get("id")) for card in cards if card.get("parent") is None]


def parse_is_sleeping(call: Call, url: str, response: httpx.Response) -> bool:
    value = json_object(call, url, response).get("is_sleeping")
    if not isinstance(value, bool):
        raise _malformed(call, url, "no is_sleeping boolean", response)
    return value


def check_sleep_answer(
    call: Call, url: str, features: Features, level: int, response: httpx.Response
) -> None:
    """<=0.31 answers an empty 200; 0.32+ ``{"status": "sleeping", "level": L}``
    (docs/vllm-behaviour.md §2.3)."""
    if not features.json_bodies:
        return
    payload = json_object(call, url, response)
    if payload.get("status") != "sleeping" or payload.get("level") != level:
        raise _malformed(call, url, f"expected sleeping at level {level}", response)


def check_wake_answer(call: Call, url: str, features: Features, response: httpx.Response) -> None:
    """<=0.31 answers an empty 200; 0.32+ ``{"status": "awake"|"sleeping", ...}``
    (docs/vllm-behaviour.md §2.4).

    ``"sleeping"`` after a partial wake is a success, so only the shape is checked.
    """
    if not features.json_bodies:
        return
    if json_object(call, url, response).get("status") not in ("awake", "sleeping"):
        raise _malformed(call, url, "no wake status", response)


def parse_rpc_results(call: Call, url: str, response: httpx.Response) -> object:
    """``None`` for vLLM's empty 200, else the per-worker ``results`` list
    (docs/vllm-behaviour.md §2.6)."""
    if not response.content.strip():
        return None
    payload = json_object(call, url, response)
    if "results" not in payload:
        raise _malformed(call, url, "no results", response)
    return payload["results"]


def check_reset_answer(call: Call, url: str, features: Features, response: httpx.Response) -> None:
    """0.26+ answers ``{"success": false}`` while running requests still hold blocks."""
    if not features.reset_prefix_cache_json:
        return
    if json_object(call, url, response).get("success") is not True:
        raise EngineBusy(
            "prefix cache not reset: running requests still hold blocks",
            url=url,
            operation=call.operation,
        )


def check_completion(call: Call, url: str, response: httpx.Response) -> None:
    choices = json_object(call, url, response).get("choices")
    if not isinstance(choices, list) or not choices:
        raise _malformed(call, url, "no completion choices", response)
