"""The events the log parser reports: one per vLLM log line that carries a figure we need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What a recognised line says."""

    SLEEP = "sleep"  # "It took %.6f seconds to fall asleep."
    WAKE = "wake"  # "It took %.6f seconds to wake up tags %s."
    CUMEM_FREED = "cumem_freed"  # "CuMemAllocator: sleep freed ..." (0.11.0+)
    SLEEP_FREED = "sleep_freed"  # "Sleep mode freed ... still in use."
    MODEL_LOADED = "model_loaded"  # "Model loading took ... GiB and ... seconds"
    KV_CACHE = "kv_cache"  # "GPU KV cache size: 512,480 tokens"
    SERVER_STARTED = "server_started"  # "Starting vLLM API server 0 on http://..."
    ENGINE_DEAD = "engine_dead"  # EngineDeadError and the V0 engine-death lines
    WAKE_OOM = "wake_oom"  # "CUDA Error: out of memory at .../cumem_allocator.cpp:NN"
    RELOAD = "reload"  # "Reloading and processing weights took %.2f seconds" (0.2x)


# The figures each kind carries, in the order the JSON output lists them. A key listed
# here is always present in the JSON (null when the line did not print it, e.g. the tags
# of a 0.7.3 wake, which means "everything"); other figures are left out.
FIGURES: dict[EventKind, tuple[str, ...]] = {
    EventKind.SLEEP: ("seconds",),
    EventKind.WAKE: ("seconds", "tags"),
    EventKind.CUMEM_FREED: ("freed_gib", "backed_up_gib", "discarded_gib"),
    EventKind.SLEEP_FREED: ("freed_gib", "still_in_use_gib"),
    EventKind.MODEL_LOADED: ("gib", "seconds"),
    EventKind.KV_CACHE: ("tokens",),
    EventKind.SERVER_STARTED: ("url",),
    EventKind.ENGINE_DEAD: (),
    EventKind.WAKE_OOM: (),
    EventKind.RELOAD: ("seconds",),
}

# Where the line came from; present in the JSON only when the line said it.
CONTEXT = ("process", "pid", "timestamp")


@dataclass(frozen=True, slots=True)
class EngineLogEvent:
    """One recognised log line and the figures it printed.

    ``tags`` is sorted (a set prints in hash-seed order); ``timestamp`` is naive local
    time, as vLLM prints it; ``line`` is the raw line, colour codes included.
    """

    event: EventKind
    seconds: float | None = None
    tags: tuple[str, ...] | None = None
    freed_gib: float | None = None
    backed_up_gib: float | None = None
    discarded_gib: float | None = None
    still_in_use_gib: float | None = None
    gib: float | None = None
    tokens: int | None = None
    url: str | None = None
    process: str | None = None
    pid: int | None = None
    timestamp: datetime | None = None
    line: str = ""

    def to_json_dict(self) -> dict[str, object]:
        """The event as JSON-ready values: ``event``, its figures, then known context."""
        out: dict[str, object] = {"event": self.event.value}
        for key in FIGURES[self.event]:
            value = getattr(self, key)
            out[key] = sorted(value) if key == "tags" and value is not None else value
        for key in CONTEXT:
            value = getattr(self, key)
            if value is not None:
                out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], line: str = "") -> EngineLogEvent | None:
        """The event ``to_json_dict`` wrote (as stored); None for a kind this parser does not
        report. Figures of the wrong type are taken as not printed."""
        try:
            kind = EventKind(str(data.get("event")))
        except ValueError:
            return None
        figures = {key: _figure(data.get(key), key) for key in (*FIGURES[kind], "process", "pid")}
        stamp = data.get("timestamp")
        timestamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        return cls(kind, **figures, timestamp=timestamp, line=line)


def _figure(value: object, key: str) -> Any:
    if key == "tags":
        return tuple(sorted(map(str, value))) if isinstance(value, list | tuple) else None
    if key in {"process", "url"}:
        return value if isinstance(value, str) else None
    if key in {"pid", "tokens"}:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
