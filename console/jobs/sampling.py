"""Ask a GPU host's agent for a memory sample now, when a job's engine calls are done.

A step's "after" figure is the first GPU sample taken after its call and before the next
move on those GPUs. At one sample a second, jobs run back to back (0.6 s apart in the
real-vLLM run on the H200) often left no sample between them, and the figure unknown or
taken from the next job's move. So the worker publishes on the host's channel as a job
ends, and the agent, waiting for its next tick, ticks at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings
from redis.client import PubSub
from redis.exceptions import RedisError

from console.gates.drain import sync_redis

log = logging.getLogger(__name__)

# The listener's reconnect pause after Redis went away.
_RETRY_SECONDS = 1.0


def channel(host_name: str) -> str:
    return f"{settings.REDIS_PREFIX}agent:sample:{host_name}"


def ask_for_samples(host_names: Iterable[str]) -> None:
    """Ask each host's agent for a sample now (a lost request costs only its figure)."""
    for name in sorted(set(host_names)):
        try:
            sync_redis(settings.REDIS_URL).publish(channel(name), "1")
        except RedisError as error:
            log.warning("could not ask host %s's agent for a sample: %r", name, error)


def listen_for_requests(host_name: str, asked: threading.Event, stopped: threading.Event) -> None:
    """The agent's side, on a thread of its own: set ``asked`` for every request until
    ``stopped``; reconnects after Redis went away."""
    while not stopped.is_set():
        try:
            redis = sync_redis(settings.REDIS_URL)
            with PubSub(redis.connection_pool, ignore_subscribe_messages=True) as pubsub:
                pubsub.subscribe(channel(host_name))
                while not stopped.is_set():
                    if pubsub.get_message(timeout=1.0):
                        asked.set()
        except RedisError as error:
            log.warning("agent: sample requests lost Redis (%r); retrying", error)
            time.sleep(_RETRY_SECONDS)
