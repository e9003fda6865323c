"""Fan-out, sending, retries, rate limits and failures, against a real local receiver."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.db.models import QuerySet

from console.models.notifications import (
    AlertKind,
    DeliveryState,
    NotificationDelivery,
    NotificationRule,
)
from console.notifications import delivery
from console.notifications.delivery import Attempt
from tests.notifications.conftest import RuleFactory
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db


def raise_event(kind: AlertKind = AlertKind.ENGINE_DIED, **details: Any) -> list[int]:
    return delivery.fan_out(kind.value, f"{kind.value} happened", details)


def deliveries(rule: NotificationRule) -> QuerySet[NotificationDelivery]:
    return NotificationDelivery.objects.filter(rule=rule)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_rule_without_events_gets_every_event(make_rule: RuleFactory) -> None:
    rule = make_rule()
    for kind in AlertKind:
        assert len(raise_event(kind)) == 1
    assert set(deliveries(rule).values_list("kind", flat=True)) == set(AlertKind.values)


def test_a_rule_gets_only_the_events_it_names(make_rule: RuleFactory) -> None:
    rule = make_rule(events=[AlertKind.JOB_FAILED.value])
    assert raise_event(AlertKind.ENGINE_DIED) == []
    assert len(raise_event(AlertKind.JOB_FAILED)) == 1
    assert list(deliveries(rule).values_list("kind", flat=True)) == ["job_failed"]


def test_a_disabled_rule_gets_nothing(make_rule: RuleFactory) -> None:
    rule = make_rule(enabled=False)
    assert raise_event() == []
    assert not deliveries(rule).exists()


def test_a_delivery_reaches_the_receiver_with_its_figures(
    make_rule: RuleFactory, receiver: Receiver
) -> None:
    make_rule()
    (delivery_id,) = raise_event(AlertKind.JOB_REFUSED, needed_gib=12.5, free_gib=3.0)
    assert delivery.attempt(delivery_id) == Attempt.SENT
    (body,) = receiver.wait_for(1, timeout=5)
    assert body["title"] == "vLLM Console: job_refused"
    assert "needed_gib: 12.5" in body["message"]
    assert "free_gib: 3.0" in body["message"]
    row = NotificationDelivery.objects.get(pk=delivery_id)
    assert (row.state, row.attempts, row.error) == (DeliveryState.SENT, 1, "")
    assert row.finished_at is not None


def test_a_failed_attempt_is_recorded_and_asks_for_a_retry(
    make_rule: RuleFactory, receiver: Receiver
) -> None:
    make_rule()
    receiver.statuses = [500]
    (delivery_id,) = raise_event()
    assert delivery.attempt(delivery_id) == Attempt.RETRY
    row = NotificationDelivery.objects.get(pk=delivery_id)
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)
    assert "500" in row.error


def test_a_retry_after_a_failure_is_sent(make_rule: RuleFactory, receiver: Receiver) -> None:
    make_rule()
    receiver.statuses = [503]
    (delivery_id,) = raise_event()
    assert delivery.attempt(delivery_id) == Attempt.RETRY
    assert delivery.attempt(delivery_id) == Attempt.SENT
    row = NotificationDelivery.objects.get(pk=delivery_id)
    assert (row.state, row.attempts) == (DeliveryState.SENT, 2)
    assert len(receiver.wait_for(1, timeout=5)) == 1


def test_the_last_failed_attempt_fails_the_delivery_with_why(
    make_rule: RuleFactory, receiver: Receiver, settings: Any
) -> None:
    settings.CONSOLE_ALERT_ATTEMPTS = 2
    make_rule()
    receiver.statuses = [500, 500]
    (delivery_id,) = raise_event()
    assert delivery.attempt(delivery_id) == Attempt.RETRY
    assert delivery.attempt(delivery_id) == Attempt.FAILED
    row = NotificationDelivery.objects.get(pk=delivery_id)
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 2)
    assert "500" in row.error
    assert row.finished_at is not None


def test_an_unreachable_target_is_recorded_as_a_connection_error(
    make_rule: RuleFactory,
) -> None:
    make_rule(url=f"json://127.0.0.1:{closed_port()}/hook")
    (delivery_id,) = raise_event()
    assert delivery.attempt(delivery_id) == Attempt.RETRY
    assert "Connection error" in NotificationDelivery.objects.get(pk=delivery_id).error


def test_a_finished_delivery_is_not_sent_again(make_rule: RuleFactory, receiver: Receiver) -> None:
    make_rule()
    (delivery_id,) = raise_event()
    assert delivery.attempt(delivery_id) == Attempt.SENT
    assert delivery.attempt(delivery_id) == Attempt.SKIPPED
    assert len(receiver.received) == 1
    assert NotificationDelivery.objects.get(pk=delivery_id).attempts == 1


def test_deliveries_over_the_rules_hourly_limit_are_suppressed(make_rule: RuleFactory) -> None:
    rule = make_rule(max_per_hour=2)
    assert [len(raise_event()) for _ in range(3)] == [1, 1, 0]
    suppressed = deliveries(rule).get(state=DeliveryState.SUPPRESSED)
    assert suppressed.error == "over the rule's limit of 2 deliveries an hour"
    assert deliveries(rule).filter(state=DeliveryState.PENDING).count() == 2


def test_one_rules_limit_does_not_hold_back_another(make_rule: RuleFactory) -> None:
    make_rule(max_per_hour=1)
    other = make_rule(max_per_hour=5)
    assert [len(raise_event()) for _ in range(2)] == [2, 1]
    assert deliveries(other).filter(state=DeliveryState.PENDING).count() == 2


def test_a_test_delivery_goes_to_its_rule_only(make_rule: RuleFactory, receiver: Receiver) -> None:
    rule = make_rule(enabled=False)
    made = delivery.open_test(rule, "admin1")
    assert delivery.attempt(made.pk) == Attempt.SENT
    (body,) = receiver.wait_for(1, timeout=5)
    assert body["title"] == "vLLM Console: test"
    assert "sent by admin1" in body["message"]


def test_retries_back_off_doubling(settings: Any) -> None:
    settings.CONSOLE_ALERT_BACKOFF_SECONDS = 10.0
    assert [delivery.backoff_seconds(n) for n in range(4)] == [10.0, 20.0, 40.0, 80.0]
