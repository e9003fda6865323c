"""Redis key names shared by the web processes, the jobs and the idle policy."""

from __future__ import annotations


def inflight(prefix: str, instance_id: int) -> str:
    """Sorted set: one member per request on the engine, scored by its lease's end."""
    return f"{prefix}gw:inflight:{instance_id}"


def gate(prefix: str, instance_id: int) -> str:
    """Present while a sleep is in flight: holds the token of the sleep that closed it."""
    return f"{prefix}gw:gate:{instance_id}"


def last_request(prefix: str, instance_id: int) -> str:
    """Redis time (seconds) of the last request the gateway admitted or held for it."""
    return f"{prefix}gw:last:{instance_id}"


def held(prefix: str, model: str) -> str:
    """Sorted set: the requests held for a model by all web processes, with leases."""
    return f"{prefix}gw:held:{model}"


def waking(prefix: str, instance_id: int) -> str:
    """Short lock: one web process at a time asks for the activate job."""
    return f"{prefix}gw:waking:{instance_id}"


def deepen(prefix: str, instance_id: int) -> str:
    """Redis time the idle policy woke a level-1 sleeper to put it to sleep at level 2."""
    return f"{prefix}gw:deepen:{instance_id}"


def figures(prefix: str, model: str) -> str:
    """Hash of counters per model (requests, errors, held seconds, wakes on request)."""
    return f"{prefix}gw:figures:{model}"


def figures_index(prefix: str) -> str:
    """Set of the models that have figures."""
    return f"{prefix}gw:figures-models"


def figures_recorded(prefix: str) -> str:
    """JSON of every model's counters when the history last recorded them (for deltas)."""
    return f"{prefix}gw:figures-recorded"


def quiet_probe(prefix: str, instance_id: int, stopped_at: float) -> str:
    """Present while reconcile waits before asking a silent stopped engine again."""
    return f"{prefix}reconcile:quiet:{instance_id}:{stopped_at:.6f}"
