"""The HTTP requests the client sends, built as plain values from a version's features.

Nothing here does I/O. Every builder checks what the version supports and raises
:class:`UnsupportedByVersion` (or ``ValueError`` for a caller's mistake) before anything
is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from engines.errors import UnsupportedByVersion
from engines.versions import Features

SleepMode = Literal["abort", "wait", "keep"]

SLEEP_LEVELS = (0, 1, 2)
SLEEP_MODES: tuple[SleepMode, ...] = ("abort", "wait", "keep")
WAKE_TAGS = ("weights", "kv_cache")
SCHEDULING_TAG = "scheduling"  # 0.17+: wakes a level-0 sleep (docs/vllm-behaviour.md §2.4)
WARMUP_PROMPT = "Hello"


class Budget(Enum):
    """How long the server may take to answer: picks the read timeout of a call."""

    QUICK = "quick"  # metadata: /version, /v1/models, /is_sleeping, /metrics
    HEALTH = "health"
    SLOW = "slow"  # sleep, wake, reload_weights: minutes on real hardware
    COMPLETION = "completion"


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed per phase of a request, and per kind of call for the answer.

    The read timeout of quick calls is the client's ``timeout`` argument. A first level-1 sleep of a
    large model took 43.5 s on an H100 (docs/vllm-behaviour.md §3), so slow calls get minutes.
    """

    connect: float = 5.0
    write: float = 10.0
    pool: float = 10.0
    health: float = 5.0
    slow: float = 600.0
    completion: float = 120.0

    def read(self, budget: Budget, quick: float) -> float:
        """The read timeout for a call of ``budget``."""
        by_budget = {
            Budget.QUICK: quick,
            Budget.HEALTH: self.health,
            Budget.SLOW: self.slow,
            Budget.COMPLETION: self.completion,
        }
        return by_budget[budget]


@dataclass(frozen=True)
class Call:
    """One request: ``operation`` names the client method, for error messages.

    ``dev`` marks endpoints that exist only with ``VLLM_SERVER_DEV_MODE=1`` (a 404 there
    means dev mode is off); ``wakes`` marks calls that re-map GPU memory (a 500 there may
    be CUDA out of memory).
    """

    operation: str
    method: Literal["GET", "POST"]
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, object] | None = field(default=None, hash=False)
    budget: Budget = Budget.QUICK
    dev: bool = False
    wakes: bool = False


def _unsupported(features: Features, operation: str, why: str) -> UnsupportedByVersion:
    return UnsupportedByVersion(f"vLLM {features.version} {why}", operation=operation)


def version_call() -> Call:
    return Call("version", "GET", "/version")


def health_call() -> Call:
    return Call("health", "GET", "/health", budget=Budget.HEALTH)


def models_call() -> Call:
    return Call("models", "GET", "/v1/models")


def metrics_call() -> Call:
    return Call("metrics", "GET", "/metrics")


def is_sleeping_call(features: Features) -> Call:
    if not features.has_is_sleeping:
        raise _unsupported(features, "is_sleeping", "has no GET /is_sleeping (added in 0.8.0)")
    return Call("is_sleeping", "GET", "/is_sleeping", dev=True)


def sleep_call(features: Features, level: int, mode: SleepMode | None) -> Call:
    """``POST /sleep?level=N``: vLLM reads the level only from the query string
    (docs/vllm-behaviour.md §2.3)."""
    if level not in SLEEP_LEVELS:
        # <=0.31 accepts any integer and treats it like level 2 without saving buffers.
        raise ValueError(f"sleep level must be one of {SLEEP_LEVELS}, got {level}")
    if not features.has_sleep_endpoints:
        raise _unsupported(features, "sleep", "has no POST /sleep (added in 0.7.3)")
    if level == 0 and not features.has_sleep_level_zero:
        raise _unsupported(features, "sleep", "has no sleep level 0 (added in 0.17.0)")
    params = [("level", str(level))]
    if mode is not None:
        if mode not in SLEEP_MODES:
            raise ValueError(f"sleep mode must be one of {SLEEP_MODES}, got {mode!r}")
        if not features.has_sleep_level_zero:
            raise _unsupported(features, "sleep", "has no sleep mode parameter (added in 0.17.0)")
        params.append(("mode", mode))
    return Call("sleep", "POST", "/sleep", tuple(params), budget=Budget.SLOW, dev=True)


def wake_call(features: Features, tags: Sequence[str] | None) -> Call:
    """``POST /wake_up``, tags as repeated query parameters (``?tags=weights&tags=kv_cache``)."""
    if not features.has_sleep_endpoints:
        raise _unsupported(features, "wake", "has no POST /wake_up (added in 0.7.3)")
    if tags is None:
        return Call("wake", "POST", "/wake_up", budget=Budget.SLOW, dev=True, wakes=True)
    if isinstance(tags, str) or not tags:
        # vLLM turns an empty tag list into "wake everything": make callers say None.
        raise ValueError(f"tags must be a non-empty sequence of tag names, or None; got {tags!r}")
    if not features.has_wake_tags:
        raise _unsupported(features, "wake", "has no wake_up tags (added in 0.8.5)")
    known = (*WAKE_TAGS, SCHEDULING_TAG) if features.has_sleep_level_zero else WAKE_TAGS
    unknown = [tag for tag in tags if tag not in known]
    if unknown:
        # vLLM only logs a warning for an unknown tag and answers 200 (docs/vllm-behaviour.md §2.4).
        raise ValueError(f"unknown wake tags {unknown}; vLLM {features.version} knows {known}")
    params = tuple(("tags", tag) for tag in tags)
    return Call("wake", "POST", "/wake_up", params, budget=Budget.SLOW, dev=True, wakes=True)


def collective_rpc_call(features: Features, method: str) -> Call:
    if not features.has_collective_rpc:
        raise _unsupported(features, "collective_rpc", "has no POST /collective_rpc (0.10.2+)")
    body = {"method": method}
    return Call(
        "collective_rpc", "POST", "/collective_rpc", body=body, budget=Budget.SLOW, dev=True
    )


def require_level2_wake(features: Features) -> None:
    """Refuse the level-2 wake where no HTTP sequence can give the weights back."""
    if not features.has_collective_rpc:
        raise _unsupported(
            features,
            "wake_level2",
            "cannot wake from level 2 over HTTP: the weights must be reloaded with "
            "collective_rpc('reload_weights'), and POST /collective_rpc exists only from "
            "0.10.2. A plain wake would serve garbage. Restart the server instead, and use "
            "sleep level 1 on this version.",
        )


def reset_prefix_cache_call(features: Features) -> Call:
    if not features.has_reset_prefix_cache:
        # Sent anyway, the missing route's 404 would read as dev mode off
        # (docs/vllm-behaviour.md §2.1).
        raise _unsupported(
            features, "reset_prefix_cache", "has no POST /reset_prefix_cache (added in 0.8)"
        )
    return Call("reset_prefix_cache", "POST", "/reset_prefix_cache", budget=Budget.SLOW, dev=True)


def completion_call(model: str) -> Call:
    """A one-token, greedy completion: enough to run one forward pass."""
    body = {"model": model, "prompt": WARMUP_PROMPT, "max_tokens": 1, "temperature": 0}
    return Call("warmup", "POST", "/v1/completions", body=body, budget=Budget.COMPLETION)
