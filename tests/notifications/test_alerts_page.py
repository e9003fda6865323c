"""The Alerts page: add, edit (the URL kept when left blank), delete, send a test; audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from console.models import AuditEntry, Outcome
from console.models.notifications import NotificationDelivery, NotificationRule
from console.roles import Role
from tests.console.conftest import create_user
from tests.notifications.conftest import RuleFactory
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.ADMIN))
    return client


def form(**fields: Any) -> dict[str, Any]:
    return {"name": "ops", "url": "", "max_per_hour": "30", "enabled": "on", **fields}


def test_an_admin_adds_a_rule_for_some_events(admin_page: Client, receiver: Receiver) -> None:
    response = admin_page.post("/alerts/", form(url=receiver.url(),
                               events=["engine_died", "slow_wake"]))  # fmt: skip
    assert response.status_code == 302
    rule = NotificationRule.objects.get(name="ops")
    assert (rule.url, rule.events, rule.enabled) == (
        receiver.url(),
        ["engine_died", "slow_wake"],
        True,
    )
    assert AuditEntry.objects.get(action="notification_rule.create").outcome == Outcome.OK


def test_an_unparseable_url_is_a_400_with_the_error_on_the_page(admin_page: Client) -> None:
    response = admin_page.post("/alerts/", form(url="nonsense"))
    assert response.status_code == 400
    assert "not an Apprise URL" in response.content.decode()
    assert not NotificationRule.objects.exists()
    entry = AuditEntry.objects.get(action="notification_rule.create")
    assert (entry.outcome, entry.detail["invalid"]) == (Outcome.FAILED, ["url"])


def test_an_unknown_event_is_a_400(admin_page: Client, receiver: Receiver) -> None:
    response = admin_page.post("/alerts/", form(url=receiver.url(), events=["engine_exploded"]))
    assert response.status_code == 400
    assert not NotificationRule.objects.exists()


def test_an_edit_with_the_url_left_blank_keeps_it(
    admin_page: Client, make_rule: RuleFactory, receiver: Receiver
) -> None:
    rule = make_rule(name="ops")
    response = admin_page.post(f"/alerts/{rule.pk}/", form(events=["host_offline"],
                               max_per_hour="5"))  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.url, rule.events, rule.max_per_hour) == (receiver.url(), ["host_offline"], 5)
    assert rule.enabled


def test_an_edit_unticking_enabled_disables_the_rule(
    admin_page: Client, make_rule: RuleFactory
) -> None:
    rule = make_rule(name="ops")
    admin_page.post(f"/alerts/{rule.pk}/", {"name": "ops", "url": "", "max_per_hour": "30"})
    rule.refresh_from_db()
    assert not rule.enabled


def test_deleting_a_rule_from_the_page(admin_page: Client, make_rule: RuleFactory) -> None:
    rule = make_rule()
    assert admin_page.post(f"/alerts/{rule.pk}/delete/").status_code == 302
    assert not NotificationRule.objects.exists()
    assert AuditEntry.objects.filter(action="notification_rule.delete").exists()


def test_send_a_test_lists_its_delivery_on_the_page(
    admin_page: Client, make_rule: RuleFactory, django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rule = make_rule(name="ops")
    monkeypatch.setattr("console.notifications.alerts._enqueue", lambda task, args: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_page.post(f"/alerts/{rule.pk}/test/").status_code == 302
    made = NotificationDelivery.objects.get(rule=rule)
    assert made.kind == "test"
    page = admin_page.get("/alerts/").content.decode()
    assert "a test of rule ops" in page
    assert 'class="delivery delivery-pending"' in page
