"""Alerts fixtures: a local receiver, rules pointing at it, a clean Redis counter space."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from redis import Redis

from console.models.notifications import NotificationRule
from console.notifications import alerts, targets
from tests.support.receiver import Receiver, running_receiver

RuleFactory = Callable[..., NotificationRule]
Raised = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_alert_counters() -> Iterator[None]:
    """Rule ids repeat between tests (rolled back): their rate counters must not."""
    redis = Redis.from_url(settings.REDIS_URL)

    def clean() -> None:
        keys = list(redis.scan_iter(f"{settings.REDIS_PREFIX}alerts:*"))
        if keys:
            redis.delete(*keys)

    clean()
    yield
    clean()
    redis.close()


def create_rule(url: str, **fields: Any) -> NotificationRule:
    fields.setdefault("name", f"rule-{NotificationRule.objects.count() + 1}")
    return NotificationRule.objects.create(url=url, masked_url=targets.masked(url), **fields)


@pytest.fixture
def make_rule(db: None, receiver: Receiver) -> RuleFactory:
    """``make_rule(events=["engine_died"])``: a rule sending to the receiver."""

    def make(url: str = "", **fields: Any) -> NotificationRule:
        return create_rule(url or receiver.url(), **fields)

    return make


@pytest.fixture
def raised(monkeypatch: pytest.MonkeyPatch) -> Raised:
    """The alerts raised, as they would leave for the broker (kind, summary, details)."""
    sent: Raised = []

    def record(task: str, args: tuple[Any, ...]) -> None:
        if task == alerts.FAN_OUT_TASK:
            sent.append(args)

    monkeypatch.setattr(alerts, "_enqueue", record)
    return sent
