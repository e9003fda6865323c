"""The one publisher: every realtime event goes through ``publish``/``apublish`` here.

Events travel over the channel layer in batches (one ``group_send`` per group per call),
so an agent tick of 8 GPUs, a host and 16 instances costs one Redis round trip per group
instead of 25. Publishing is best effort: the database is the truth and a page re-reads it
in the snapshot on reconnect, so a Redis outage is logged and never fails a job or a tick.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from console.realtime.events import Event

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


def publish(*events: Event) -> None:
    """Send events from sync code (Celery tasks, the agent's thread)."""
    if events:
        async_to_sync(apublish)(*events)


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
