"""The in-process table of model -> instances and key hash -> key, refreshed about once a second.

The hot path never queries the database: it reads this table, which one background task
per process reloads, and which pushed state changes patch as they happen
(``console.gates.changes``). Waiters block on ``changed()`` instead of polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from asgiref.sync import sync_to_async
from django.utils import timezone

from console.gates.changes import StateChange
from console.gateway.quota import Limits
from console.models import Instance, InstanceState
from console.models.gateway import InferenceKey


@dataclass(frozen=True)
class Route:
    """One instance serving a model, as the database had it at the last refresh."""

    instance_id: int
    model: str
    base_url: str
    api_key: str
    state: str
    state_changed_at: datetime
    detail: str = ""

    @property
    def episode(self) -> int:
        """Identifies this stretch of the state: microseconds since the epoch of its start."""
        return int(self.state_changed_at.timestamp() * 1_000_000)


S = InstanceState
# Which instance of a model a request goes to (or waits for): the first state listed wins,
# the lowest id among equals (``min`` keeps the first, and rows come ordered by id).
_READINESS: dict[str, int] = {state: rank for rank, state in enumerate(
    (S.AWAKE, S.WAKING, S.SLEEPING, S.FALLING_ASLEEP, S.STARTING, S.UNKNOWN, S.ERROR,
     S.STOPPING, S.STOPPED)
)}  # fmt: skip


@dataclass(frozen=True)
class KeyEntry:
    """A usable inference key: its row id, the models it may use (empty = all), its limits."""

    key_id: int
    allowed: frozenset[str]
    limits: Limits = field(default_factory=Limits)
    name: str = ""

    def may_use(self, model: str) -> bool:
        return not self.allowed or model in self.allowed


@dataclass(frozen=True)
class Snapshot:
    """Everything the hot path needs, loaded in one go."""

    routes: dict[str, list[Route]] = field(default_factory=dict)
    keys: dict[str, KeyEntry] = field(default_factory=dict)


def load_snapshot(used_key_ids: set[int]) -> Snapshot:
    """Read instances and keys; stamp ``last_used_at`` on the keys used since last time."""
    if used_key_ids:
        InferenceKey.objects.filter(pk__in=used_key_ids).update(last_used_at=timezone.now())
    routes: dict[str, list[Route]] = {}
    rows = Instance.objects.order_by("pk").values_list(
        "pk", "served_model_name", "base_url", "api_key", "state", "state_changed_at",
        "state_detail",
    )  # fmt: skip
    for pk, model, base_url, api_key, state, changed, detail in rows:
        route = Route(pk, model, base_url.rstrip("/"), api_key, state, changed, detail)
        routes.setdefault(model, []).append(route)
    usable = InferenceKey.objects.filter(revoked_at__isnull=True).values_list(
        "pk", "key_hash", "name", "allowed_models", "requests_per_minute", "tokens_per_minute",
        "max_concurrent",
    )  # fmt: skip
    keys = {
        key_hash: KeyEntry(pk, frozenset(allowed or ()), Limits(*limits), name)
        for pk, key_hash, name, allowed, *limits in usable
    }
    return Snapshot(routes, keys)


class RouteTable:
    """The current snapshot, its refresh, and a way to wait for the next one."""

    def __init__(self, on_load: Callable[[Snapshot], Awaitable[object]] | None = None) -> None:
        self.snapshot = Snapshot()
        self.on_load = on_load
        self.used_key_ids: set[int] = set()
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self.generation = 0
        # Counts every change waiters were told of (reloads and pushed state changes).
        self.version = 0

    async def refresh(self) -> Snapshot:
        async with self._lock:
            await self._load()
        return self.snapshot

    async def refresh_for_miss(self) -> None:
        """Reload for a model or an instance the table does not know, unless one reload is
        under way already: requests missing together share it."""
        seen = self.generation
        async with self._lock:
            if self.generation == seen:
                await self._load()

    async def _load(self) -> None:
        used, self.used_key_ids = self.used_key_ids, set()
        self.snapshot = await sync_to_async(load_snapshot, thread_sensitive=False)(used)
        self.generation += 1
        if self.on_load is not None:
            # Before waiters hear of it: gates to reopen are open when they look.
            await self.on_load(self.snapshot)
        self.wake_waiters()

    def wake_waiters(self) -> None:
        """Let every ``changed()`` waiter look at the table again."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def apply(self, change: StateChange) -> Route | None:
        """Patch the instance's route with a pushed state change (one older than what the
        table holds is ignored); None when the table does not know the instance."""
        for model, routes in self.snapshot.routes.items():
            for index, route in enumerate(routes):
                if route.instance_id != change.instance_id:
                    continue
                if route.state_changed_at > change.state_changed_at:
                    return route
                patched = replace(
                    route,
                    state=change.state,
                    state_changed_at=change.state_changed_at,
                    detail=change.detail,
                )
                replaced = [*routes[:index], patched, *routes[index + 1 :]]
                by_model = {**self.snapshot.routes, model: replaced}
                self.snapshot = replace(self.snapshot, routes=by_model)
                return patched
        return None

    async def changed(self, seconds: float, since: int | None = None) -> None:
        """Return after the next change of the table, or after ``seconds``; at once when it
        changed already since the caller read ``version`` (``since``): a change that came
        while the caller was busy elsewhere (asking for a wake) is not waited for again."""
        if since is not None and since != self.version:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return

    def route(self, model: str) -> Route | None:
        """The instance of the model closest to serving: awake, else waking, else one to
        wake... a failed or stopped one only when there is nothing better."""
        routes = self.snapshot.routes.get(model)
        if not routes:
            return None
        return min(routes, key=lambda r: _READINESS.get(r.state, len(_READINESS)))

    def key(self, key_hash: str) -> KeyEntry | None:
        return self.snapshot.keys.get(key_hash)

    def models(self) -> list[str]:
        return sorted(self.snapshot.routes)
