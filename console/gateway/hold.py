"""Hold and wake: a request for a model that cannot be served now waits, and wakes it.

The first held request for a sleeping instance asks for one switch job, which
wakes it and, when the GPUs are full, puts the least recently used neighbours to sleep.
A Redis lock keeps several web processes from asking at once; a job already there
(``JobConflictError``) is simply waited for. Held requests per model are capped across
all web processes; past the cap, or past the hold timeout, the answer is 503 with
Retry-After. The caller cancels the hold when its client disconnects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from redis.asyncio import Redis

from console import audit
from console.gates import redis_keys, scripts
from console.gates.config import GatewayConfig
from console.gateway.errors import GatewayError, not_found, unavailable
from console.gateway.figures import Tally
from console.gateway.gate import AsyncGate
from console.gateway.routes import Route, RouteTable
from console.jobs.service import JobConflictError, JobRefusedError, JobRequest, request_job
from console.models import InstanceState, JobKind, Outcome

log = logging.getLogger(__name__)

# Held requests look at the table at least this often (it also wakes them on refresh).
_RECHECK_SECONDS = 0.25
# A failed switch job is asked for again after this long, not on every recheck.
_WAKE_LOCK_SECONDS = 3
# States in which the engine serves nothing until an operator launches it again.
_NOT_RUNNING = frozenset({InstanceState.STOPPED, InstanceState.STOPPING})
# How much of the instance's state detail a failed request's message quotes.
_DETAIL_CHARS = 200


def request_switch(instance_id: int, key: str = "", client: str = "") -> bool:
    """Ask for the switch job that wakes the instance; False when one is already there.

    The job is audited like an operator's, authored by the inference key that asked (its
    name, from the route table: no query before the job is asked for).
    """
    # The job's row names its author as an operator's names its user (Job.author).
    params = {"via": "gateway", **({"inference_key": key} if key else {})}
    try:
        job = request_job(
            JobRequest(instance_id, JobKind.SWITCH, params, remote_addr=client or None)
        )
    except JobConflictError:
        return False
    except JobRefusedError as refused:
        log.info("gateway could not ask to wake instance %s: %s", instance_id, refused)
        return False
    audit.record(
        None, f"job.{JobKind.SWITCH}", Outcome.OK, target=job.instance,
        target_type="instance", detail={"job": job.pk, "via": "gateway", "client": client},
        actor=f"inference key {key}" if key else "gateway",
    )  # fmt: skip
    return True


@dataclass(frozen=True)
class Asker:
    """Who a held request came from: the switch job it starts is audited as theirs."""

    key_name: str = ""
    client: str = ""


class Holder:
    """Gets a request to an engine it may be sent to, holding it as long as needed."""

    def __init__(
        self, table: RouteTable, gate: AsyncGate, redis: Redis, config: GatewayConfig, tally: Tally
    ) -> None:
        self.table = table
        self.tally = tally
        self.gate = gate
        self.redis = redis
        self.config = config
        self.holding = 0
        self._hold = redis.register_script(scripts.HOLD)

    async def lookup_or_none(self, model: str) -> Route | None:
        route = self.table.route(model)
        if route is None:
            # A model registered a moment ago is served at once, not after the next refresh.
            await self.table.refresh_for_miss()
            route = self.table.route(model)
        return route

    async def lookup(self, model: str) -> Route:
        route = await self.lookup_or_none(model)
        if route is None:
            raise not_found(f"The model `{model}` does not exist.", "model_not_found")
        return route

    async def acquire(self, model: str, request_id: str, asker: Asker | None = None) -> Route:
        """The route to forward to, with the request marked in flight on it."""
        route = await self.lookup(model)
        # Not awake: held at once (the wait below marks the activity and asks for the wake).
        if route.state == InstanceState.AWAKE and await self.gate.admit(route, request_id):
            return route
        return await self._held(model, request_id, asker or Asker())

    async def _held(self, model: str, request_id: str, asker: Asker) -> Route:
        p, cfg = self.config.redis_prefix, self.config
        lease = cfg.hold_seconds + 30
        if not await self._hold(
            keys=[redis_keys.held(p, model)], args=[request_id, lease, cfg.max_held]
        ):
            self.tally.add(model, rejected=1)
            raise unavailable(f"Too many requests are waiting for `{model}`; retry later.",
                              "too_many_held", cfg.retry_after_seconds)  # fmt: skip
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.holding += 1
        try:
            route = await self._wait(model, request_id, started + cfg.hold_seconds, asker)
        finally:
            self.holding -= 1
            # Shielded: a hold cancelled by a disconnect must still leave the count.
            await asyncio.shield(self.redis.zrem(redis_keys.held(p, model), request_id))
        self.tally.add(model, held=1, held_seconds=loop.time() - started)
        return route

    async def _wait(self, model: str, request_id: str, deadline: float, asker: Asker) -> Route:
        loop = asyncio.get_running_loop()
        while True:
            seen = self.table.version
            route = await self.lookup(model)
            refusal = self._refusal(route)
            if refusal is not None:
                self.tally.add(model, rejected=1)
                raise refusal
            if route.state == InstanceState.SLEEPING:  # asked for before anything else
                await self._ask_wake(route, asker)
            if await self.gate.admit(route, request_id):
                return route
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.tally.add(model, rejected=1)
                raise unavailable(
                    f"The model `{model}` did not wake within {self.config.hold_seconds:g} s.",
                    "wake_timeout",
                    self.config.retry_after_seconds,
                )
            await self.table.changed(min(remaining, _RECHECK_SECONDS), since=seen)

    def _refusal(self, route: Route) -> GatewayError | None:
        """The answer for an instance that will not serve without an operator, if it is one.

        A failed engine is answered at once with the reason instead of holding callers until
        the hold timeout; ``unknown`` is held, as the reconcile loop settles it within
        seconds (to awake, sleeping or error).
        """
        retry = self.config.retry_after_seconds
        if route.state in _NOT_RUNNING:
            return unavailable(f"The model `{route.model}` is not running.", "model_not_running",
                               retry)  # fmt: skip
        if route.state == InstanceState.ERROR:
            reason = route.detail.strip().splitlines()[0][:_DETAIL_CHARS] if route.detail else ""
            why = f": {reason}" if reason else ""
            return unavailable(f"The engine serving `{route.model}` has failed{why}.",
                               "model_failed", retry)  # fmt: skip
        return None

    async def _ask_wake(self, route: Route, asker: Asker) -> None:
        lock = redis_keys.waking(self.config.redis_prefix, route.instance_id)
        if not await self.redis.set(lock, "1", nx=True, ex=_WAKE_LOCK_SECONDS):
            return
        asked = await sync_to_async(request_switch, thread_sensitive=False)(
            route.instance_id, asker.key_name, asker.client
        )
        if asked:
            self.tally.add(route.model, wakes_on_request=1)
