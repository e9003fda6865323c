"""``/api/notification-rules/``: admins only, field errors for bad input, URL write-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.models import AuditEntry
from console.models.notifications import DeliveryState, NotificationDelivery, NotificationRule
from console.notifications import delivery
from console.roles import Role
from tests.console.conftest import create_user
from tests.notifications.conftest import RuleFactory
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db
SECRET = "s3cret-Pa55word"
URL = "/api/notification-rules/"


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


def create(client: APIClient, **body: Any) -> Any:
    return client.post(URL, body, format="json")


def test_an_admin_creates_a_rule_and_the_answer_masks_its_url(
    admin_client: APIClient, receiver: Receiver
) -> None:
    response = create(admin_client, name="ops", url=receiver.url(auth=f"ops:{SECRET}"),
                      events=["engine_died", "job_refused"])  # fmt: skip
    assert response.status_code == 201, response.content
    assert "url" not in response.json()
    assert SECRET not in response.content.decode()
    assert response.json()["masked_url"] == f"json://ops:****@127.0.0.1:{receiver.port}/hook"
    rule = NotificationRule.objects.get(name="ops")
    assert rule.url == receiver.url(auth=f"ops:{SECRET}")
    assert rule.events == ["engine_died", "job_refused"]


def test_listing_and_reading_never_show_the_url(make_rule: RuleFactory, receiver: Receiver,
                                                admin_client: APIClient) -> None:  # fmt: skip
    rule = make_rule(url=receiver.url(auth=f"ops:{SECRET}"))
    for path in (URL, f"{URL}{rule.pk}/"):
        response = admin_client.get(path)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()


def test_the_audit_keeps_field_names_never_the_url(
    admin_client: APIClient, receiver: Receiver
) -> None:
    create(admin_client, name="ops", url=receiver.url(auth=f"ops:{SECRET}"))
    entry = AuditEntry.objects.get(action="notification_rule.create")
    assert entry.detail["fields"] == ["name", "url"]
    assert SECRET not in str(entry.detail)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"name": "x", "url": "json://127.0.0.1:9/h", "events": ["engine_exploded"]},
         "events", "not a valid choice"),
        ({"name": "x", "url": "json://127.0.0.1:9/h", "events": "engine_died"},
         "events", "list"),
        ({"name": "x", "url": "nonsense"}, "url", "not an Apprise URL"),
        ({"name": "x", "url": "http//missing-colon"}, "url", "not an Apprise URL"),
        ({"name": "x"}, "url", "required"),
        ({"url": "json://127.0.0.1:9/h"}, "name", "required"),
        ({"name": "x", "url": "json://127.0.0.1:9/h", "max_per_hour": 0}, "max_per_hour", "1"),
        ({"name": "x", "url": "json://127.0.0.1:9/h", "enabled": "perhaps"}, "enabled", "boolean"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    admin_client: APIClient, body: dict[str, Any], field: str, says: str
) -> None:
    response = create(admin_client, **body)
    assert response.status_code == 400
    assert says in str(response.json()[field])
    assert not NotificationRule.objects.exists()


def test_a_second_rule_with_the_same_name_is_a_400(
    admin_client: APIClient, make_rule: RuleFactory
) -> None:
    make_rule(name="ops")
    response = create(admin_client, name="ops", url="json://127.0.0.1:9/h")
    assert response.status_code == 400
    assert "name" in response.json()


def test_an_unparseable_url_is_not_echoed_in_the_error(admin_client: APIClient) -> None:
    response = create(admin_client, name="x", url=f"bogus-{SECRET}")
    assert response.status_code == 400
    assert SECRET not in response.content.decode()


def test_an_update_without_a_url_keeps_the_stored_one(
    admin_client: APIClient, make_rule: RuleFactory
) -> None:
    rule = make_rule(url=f"json://ops:{SECRET}@127.0.0.1:9/h")
    response = admin_client.patch(f"{URL}{rule.pk}/", {"events": ["host_offline"]}, format="json")
    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert (rule.url, rule.events) == (f"json://ops:{SECRET}@127.0.0.1:9/h", ["host_offline"])


def test_a_new_url_replaces_the_stored_one_and_its_mask(
    admin_client: APIClient, make_rule: RuleFactory
) -> None:
    rule = make_rule()
    response = admin_client.patch(f"{URL}{rule.pk}/", {"url": "json://10.0.0.9:8080/x"},
                                  format="json")  # fmt: skip
    assert response.status_code == 200
    rule.refresh_from_db()
    assert (rule.url, rule.masked_url) == ("json://10.0.0.9:8080/x", "json://10.0.0.9:8080/x")


def test_deleting_a_rule_deletes_its_deliveries(
    admin_client: APIClient, make_rule: RuleFactory
) -> None:
    rule = make_rule()
    delivery.open_test(rule, "ada")
    assert admin_client.delete(f"{URL}{rule.pk}/").status_code == 204
    assert not NotificationDelivery.objects.exists()
    assert AuditEntry.objects.filter(action="notification_rule.delete").exists()


def test_a_test_send_answers_its_delivery_and_a_worker_sends_it(
    admin_client: APIClient,
    make_rule: RuleFactory,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rule = make_rule()
    enqueued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("console.notifications.alerts._enqueue",
                        lambda task, args: enqueued.append((task, args)))  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{URL}{rule.pk}/test/")
    assert response.status_code == 202
    made = response.json()
    assert (made["kind"], made["state"]) == ("test", "pending")
    assert enqueued == [("console.tasks.deliver_alert", (made["id"],))]
    delivery.attempt(made["id"])  # what the worker's task does
    assert receiver.wait_for(1, timeout=5)[0]["title"] == "vLLM Console: test"
    assert AuditEntry.objects.filter(action="notification_rule.test").exists()


def test_a_rules_deliveries_are_listed_newest_first_with_why_they_failed(
    admin_client: APIClient, make_rule: RuleFactory
) -> None:
    rule = make_rule(max_per_hour=1)
    first = delivery.open_test(rule, "ada")
    second = delivery.open_test(rule, "ada")
    response = admin_client.get(f"{URL}{rule.pk}/deliveries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [second.pk, first.pk]
    assert rows[0]["state"] == DeliveryState.SUPPRESSED
    assert "limit of 1" in rows[0]["error"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_viewers_and_operators_cannot_read_or_write_rules(
    role: Role, make_rule: RuleFactory
) -> None:
    rule = make_rule()
    client = APIClient()
    client.force_authenticate(create_user(role))
    assert client.get(URL).status_code == 403
    assert create(client, name="x", url="json://127.0.0.1:9/h").status_code == 403
    assert client.post(f"{URL}{rule.pk}/test/").status_code == 403
    assert client.delete(f"{URL}{rule.pk}/").status_code == 403
    assert NotificationRule.objects.count() == 1
    assert not NotificationDelivery.objects.exists()


def test_the_alerts_page_is_for_admins_only(make_rule: RuleFactory) -> None:
    client = Client()
    client.force_login(create_user(Role.OPERATOR))
    assert client.get("/alerts/").status_code == 403
