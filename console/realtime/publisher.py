"""The one publisher: every realtime event goes through ``publish``/``apublish`` here.

Events travel over the channel layer in batches (one ``group_send`` per group per call),
so an agent tick of 8 GPUs, a host and 16 instances costs one Redis round trip per group
instead of 25. Publishing is best effort: the database is the truth and a page re-reads it
in the snapshot on reconnect, so a Redis outage is logged and never fails a job or a tick.

Sync code (jobs, the agent) never waits for a publication: ``publish`` and ``submit`` hand
it to one background thread per process, which publishes in order on its own event loop.
A job's state change on the critical path of a switch costs a queue put, not a database
read and a Redis round trip (tens of milliseconds on a loaded machine); and the thread
gives way to that path (``console.critical``) before each publication, for at most
``critical.PATIENCE_SECONDS`` after it was submitted, so that its reads do not take the
interpreter from it either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections

from console import critical
from console.realtime.messages import Event

log = logging.getLogger(__name__)

CONSOLE_GROUP = "console"
# The layer message types; Channels calls the consumer methods of the same names.
BATCH_TYPE = "realtime.batch"
RECHECK_TYPE = "realtime.recheck"


def instance_group(instance_id: int) -> str:
    """The group of one instance's page (its log lines go only there)."""
    return f"instance.{instance_id}"


def user_group(user_id: int) -> str:
    """The group of every page a user has open, told to re-check when the user changes."""
    return f"user.{user_id}"


def group_of(event: Event) -> str:
    """Log lines are only for the instance page; everything else is for every dashboard."""
    if event["type"] == "log.line":
        return instance_group(event["instance_id"])
    return CONSOLE_GROUP


def batches(events: Iterable[Event]) -> dict[str, list[Event]]:
    """The events grouped by destination, in publication order."""
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(group_of(event), []).append(event)
    return grouped


def encoded(batch: list[Event]) -> list[tuple[int | None, str]]:
    """Each event as ``(instance_id or None, JSON text)``: serialised once here, not once per
    connected page (200 dashboards would otherwise encode every event 200 times)."""
    return [(_instance_of(event), json.dumps(event)) for event in batch]


def _instance_of(event: Event) -> int | None:
    instance_id = event.get("instance_id")
    return instance_id if isinstance(instance_id, int) else None


async def apublish(*events: Event) -> None:
    """Send events to every consumer subscribed to their group (from async code)."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    for group, batch in batches(events).items():
        try:
            await layer.group_send(group, {"type": BATCH_TYPE, "events": encoded(batch)})
        except Exception:
            # Redis down or restarting: pages catch up from the snapshot when they reconnect.
            log.warning("realtime publish to %s failed", group, exc_info=True)


Produce = Callable[[], Sequence[Event]]


class _Background:
    """One daemon thread that runs publications in the order they were submitted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[float, Produce]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, produce: Produce) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.Queue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="realtime-publisher", daemon=True
                )
                self._thread.start()
            self._queue.put((time.monotonic(), produce))

    @staticmethod
    def _run(work: queue.Queue[tuple[float, Produce]]) -> None:
        loop = asyncio.new_event_loop()
        while True:
            submitted, produce = work.get()
            critical.give_way(submitted + critical.PATIENCE_SECONDS)
            try:
                events = produce()
                if events:
                    loop.run_until_complete(apublish(*events))
            except Exception:
                log.exception("realtime publication failed")
            finally:
                # Not kept open between publications: a thread that holds a connection for
                # the life of the process keeps PostgreSQL from dropping a test database,
                # and one a database restart broke would be reused.
                connections.close_all()
                work.task_done()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far is published; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


_background = _Background()


def submit(produce: Produce) -> None:
    """Run ``produce`` (which may read the database) and publish what it returns, in the
    background thread, after everything submitted before it."""
    _background.submit(produce)


def publish(*events: Event) -> None:
    """Send events from sync code (Celery tasks, the agent's thread), without waiting."""
    if events:
        submit(lambda: events)


def flush(timeout: float = 5.0) -> bool:
    """Wait for the background publications submitted so far (tests, orderly shutdown)."""
    return _background.flush(timeout)


async def arecheck_user(user_id: int) -> None:
    """Make the user's open pages read the user again (deactivated, roles changed)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(user_group(user_id), {"type": RECHECK_TYPE})
    except Exception:
        # The pages' own periodic re-check still cuts the user off.
        log.warning("realtime recheck of user %s failed", user_id, exc_info=True)


def recheck_user(user_id: int) -> None:
    async_to_sync(arecheck_user)(user_id)
