"""Alerts end to end: a real agent, a real control worker, a receiver on a local port."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from console.models import Host, JobKind, JobState
from console.models.notifications import AlertKind, DeliveryState, NotificationDelivery
from console.notifications.alerts import alert
from tests.jobs.conftest import console_host, create_engine_instance, run_job
from tests.notifications.conftest import create_rule
from tests.reliability.conftest import wait_until
from tests.support.console import control_worker
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
__all__ = ["console_host"]  # a fixture


def test_a_rule_receives_engine_died_within_15_s_of_the_engine_being_killed(
    console_host: Host, receiver: Receiver
) -> None:
    create_rule(receiver.url("engines"), name="on-call", events=[AlertKind.ENGINE_DIED.value])
    instance = create_engine_instance(console_host, "doomed")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    assert instance.pid is not None

    os.killpg(instance.pid, signal.SIGKILL)
    killed = time.monotonic()

    (body,) = receiver.wait_for(1, timeout=15)
    assert time.monotonic() - killed < 15
    assert body["title"] == "vLLM Console: engine_died"
    assert body["message"].startswith(f"doomed on {console_host.name}: engine process")
    assert body["type"] == "failure"
    delivery = NotificationDelivery.objects.get(kind="engine_died")
    wait_until(lambda: NotificationDelivery.objects.get(pk=delivery.pk).state == "sent",
               what="the delivery recorded sent")  # fmt: skip


def test_a_worker_retries_a_refused_delivery_until_it_is_sent(
    transactional_db: None, receiver: Receiver, tmp_path: Path
) -> None:
    create_rule(receiver.url())
    receiver.statuses = [500, 502]
    with control_worker(tmp_path / "control", env={"CONSOLE_ALERT_BACKOFF_SECONDS": "0.2"}):
        alert(AlertKind.HOST_OFFLINE, "host h is offline", host="h")
        (body,) = receiver.wait_for(1, timeout=30)
        assert body["title"] == "vLLM Console: host_offline"

        def sent() -> bool:
            return NotificationDelivery.objects.filter(state=DeliveryState.SENT).exists()

        wait_until(sent, what="the delivery recorded sent")
    delivery = NotificationDelivery.objects.get()
    assert (delivery.attempts, delivery.error) == (3, "")
