"""Fan an event out to the rules that want it, and send each delivery with retries.

Plain functions the tasks call (``console.tasks.fan_out_alert`` and ``deliver_alert``):
each attempt is recorded on the delivery row before the task decides to retry.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils import timezone

from console.models.notifications import (
    TEST_KIND,
    DeliveryState,
    NotificationDelivery,
    NotificationRule,
)
from console.notifications import targets, throttle

log = logging.getLogger(__name__)

TITLE = "vLLM Console"


class Attempt(StrEnum):
    """What one attempt came to, for the task: only ``retry`` sends it again."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


def fan_out(kind: str, summary: str, details: dict[str, Any]) -> list[int]:
    """A delivery per enabled rule that wants ``kind``; returns the ones to send."""
    rules = [rule for rule in NotificationRule.objects.filter(enabled=True) if rule.wants(kind)]
    deliveries = [open_delivery(rule, kind, summary, details) for rule in rules]
    return [d.pk for d in deliveries if d.state == DeliveryState.PENDING]


def open_delivery(
    rule: NotificationRule, kind: str, summary: str, details: dict[str, Any]
) -> NotificationDelivery:
    """Pending, or suppressed with the reason when the rule's hourly limit is spent."""
    if throttle.take(rule.pk, rule.max_per_hour):
        return NotificationDelivery.objects.create(
            rule=rule, kind=kind, summary=summary, details=details
        )
    return NotificationDelivery.objects.create(
        rule=rule, kind=kind, summary=summary, details=details,
        state=DeliveryState.SUPPRESSED, finished_at=timezone.now(),
        error=f"over the rule's limit of {rule.max_per_hour} deliveries an hour",
    )  # fmt: skip


def open_test(rule: NotificationRule, by: str) -> NotificationDelivery:
    """A test of one rule (enabled or not), counted against its limit like any delivery."""
    summary = f"a test of rule {rule.name}, sent by {by}"
    return open_delivery(rule, TEST_KIND, summary, {"rule": rule.name})


def attempt(delivery_id: int) -> Attempt:
    """Send a pending delivery once and record the attempt; ``retry`` while attempts last."""
    delivery = (
        NotificationDelivery.objects.select_related("rule")
        .filter(pk=delivery_id, state=DeliveryState.PENDING)
        .first()
    )
    if delivery is None:  # finished already (a redelivered task) or its rule deleted
        return Attempt.SKIPPED
    tries = delivery.attempts + 1
    try:
        result = targets.send(delivery.rule.url, title(delivery), body(delivery),
                              failure=delivery.kind != TEST_KIND)  # fmt: skip
    except targets.BadTargetError as bad:
        return _finish(delivery, DeliveryState.FAILED, tries, str(bad))
    if result.ok:
        return _finish(delivery, DeliveryState.SENT, tries, "")
    log.warning("alert delivery %s (rule %s, attempt %s) failed: %s",
                delivery.pk, delivery.rule.name, tries, result.error)  # fmt: skip
    if tries >= settings.CONSOLE_ALERT_ATTEMPTS:
        return _finish(delivery, DeliveryState.FAILED, tries, result.error)
    pending = NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING)
    pending.update(attempts=tries, error=result.error)
    return Attempt.RETRY


def _finish(delivery: NotificationDelivery, to: DeliveryState, tries: int, error: str) -> Attempt:
    NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(
        state=to, attempts=tries, error=error, finished_at=timezone.now()
    )
    return Attempt.SENT if to == DeliveryState.SENT else Attempt.FAILED


def backoff_seconds(retries: int) -> float:
    """Seconds before the next attempt: doubling from ``CONSOLE_ALERT_BACKOFF_SECONDS``."""
    return float(settings.CONSOLE_ALERT_BACKOFF_SECONDS * 2 ** min(retries, 10))


def title(delivery: NotificationDelivery) -> str:
    return f"{TITLE}: {delivery.kind}"


def body(delivery: NotificationDelivery) -> str:
    """The summary, then each figure on a line of its own."""
    figures = [f"{key}: {value}" for key, value in (delivery.details or {}).items()]
    return "\n".join([delivery.summary, *figures])
