"""``alert``: the one call a place that decides an event makes.

It enqueues the fan-out task by name once the caller's transaction commits (an event of a
rolled-back change never leaves), and never raises: a broker that is down loses the alert,
never the job or the engine row that raised it. Delivery runs on a worker, so nothing on
the request path or a job's path waits for a target.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

from console.models.notifications import AlertKind

log = logging.getLogger(__name__)

FAN_OUT_TASK = "console.tasks.fan_out_alert"
DELIVER_TASK = "console.tasks.deliver_alert"


def alert(event: AlertKind, summary: str, /, **details: Any) -> None:
    """Raise ``event`` with a one-line ``summary`` and the figures behind it (JSON values)."""
    args = (event.value, summary[:500], details)
    transaction.on_commit(lambda: _enqueue(FAN_OUT_TASK, args))


def send_delivery(delivery_id: int) -> None:
    """Have a worker send a delivery made here (a rule's test) once it is committed."""
    transaction.on_commit(lambda: _enqueue(DELIVER_TASK, (delivery_id,)))


def _enqueue(task: str, args: tuple[Any, ...]) -> None:
    try:
        # retry=False: with the broker down, kombu would retry the publish for seconds,
        # and the caller (an agent's tick, a job's ending) must not wait for an alert.
        current_app.send_task(task, args, retry=False)
    except Exception as error:
        log.warning("%s%r not enqueued: the broker refused it: %r", task, args[:1], error)
