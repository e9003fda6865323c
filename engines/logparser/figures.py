"""A sleep's or a wake's figures from the events its log lines gave.

vLLM prints a sleep's and a wake's figures once per worker process: with tensor
parallelism every worker logs its own lines (``(Worker_TP1 pid=302)``, vLLM 0.12), each
about its own GPU. GiB add up over the workers; the step took as long as its slowest one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engines.logparser.events import EngineLogEvent, EventKind

# The events a sleep's lines give, and a wake's (a level-2 wake also reloads the weights).
SLEEP_KINDS = frozenset({EventKind.SLEEP, EventKind.CUMEM_FREED, EventKind.SLEEP_FREED})
WAKE_KINDS = frozenset({EventKind.WAKE, EventKind.WAKE_OOM, EventKind.RELOAD})


@dataclass(frozen=True, slots=True)
class SleepFigures:
    """What a sleep's lines say; None where no line said it."""

    seconds: float | None
    freed_gib: float | None
    backed_up_gib: float | None
    still_in_use_gib: float | None


@dataclass(frozen=True, slots=True)
class WakeFigures:
    """What a wake's lines say: its wake seconds and, for a level-2 wake, the reload's."""

    seconds: float | None
    reload_seconds: float | None


def sleep_figures(events: Iterable[EngineLogEvent]) -> SleepFigures:
    """Freed GiB from the CuMem line (vLLM 0.11.0+: freed, backed up, discarded) when
    present, else from "Sleep mode freed" (which also gives what is still in use)."""
    events = list(events)
    freed = _total(events, EventKind.CUMEM_FREED, "freed_gib")
    return SleepFigures(
        seconds=_slowest(events, EventKind.SLEEP),
        freed_gib=freed
        if freed is not None
        else _total(events, EventKind.SLEEP_FREED, "freed_gib"),
        backed_up_gib=_total(events, EventKind.CUMEM_FREED, "backed_up_gib"),
        still_in_use_gib=_total(events, EventKind.SLEEP_FREED, "still_in_use_gib"),
    )


def wake_figures(events: Iterable[EngineLogEvent]) -> WakeFigures:
    """A level-2 wake prints one wake line per tag (weights, then the KV cache) with a
    reload in between: a worker's wake lines add up, and the slowest worker's stands."""
    events = list(events)
    per_worker: dict[str, float] = {}
    for event in events:
        if event.event == EventKind.WAKE and event.seconds is not None:
            worker = _worker(event)
            per_worker[worker] = per_worker.get(worker, 0.0) + event.seconds
    seconds = round(max(per_worker.values()), 3) if per_worker else None
    return WakeFigures(seconds=seconds, reload_seconds=_slowest(events, EventKind.RELOAD))


def woke_kv_cache(events: Iterable[EngineLogEvent]) -> bool:
    """Whether a level-2 wake has printed its last line, the KV cache's (its weights' comes
    first; a wake line without tags, vLLM <= 0.7, woke everything)."""
    return any(
        event.event == EventKind.WAKE and (not event.tags or "kv_cache" in event.tags)
        for event in events
    )


def _worker(event: EngineLogEvent) -> str:
    return str(event.pid or event.process or "")


def _slowest(events: list[EngineLogEvent], kind: EventKind) -> float | None:
    seconds = [e.seconds for e in events if e.event == kind and e.seconds is not None]
    return max(seconds) if seconds else None


def _total(events: list[EngineLogEvent], kind: EventKind, figure: str) -> float | None:
    values = [getattr(e, figure) for e in events if e.event == kind]
    present = [value for value in values if value is not None]
    return round(sum(present), 3) if present else None
