"""``/api/instances/<pk>/schedule/``: viewers read, operators write; bad input is a 400."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from console.models import AuditEntry, InstanceSchedule, Outcome
from tests.console.conftest import ClientFactory, create_instance

pytestmark = pytest.mark.django_db

WORKDAYS = {"days": ["mon-fri"], "start": "08:00", "end": "19:00"}
NIGHTLY_L2 = {"days": ["daily"], "at": "01:00", "level": 2}
SCHEDULE = {"timezone": "Europe/Paris", "awake_windows": [WORKDAYS], "timed_sleeps": [NIGHTLY_L2]}


def url(pk: int) -> str:
    return f"/api/instances/{pk}/schedule/"


def put(client: Any, pk: int, body: Any) -> Any:
    return client.put(url(pk), body, format="json")


def test_an_instance_without_a_schedule_reads_as_empty(
    viewer: User, token_client: ClientFactory
) -> None:
    instance = create_instance()
    body = token_client(viewer).get(url(instance.pk)).json()
    assert body == {"timezone": "UTC", "awake_windows": [], "timed_sleeps": [],
                    "kept_awake_now": False, "upcoming": []}  # fmt: skip


def test_an_operator_sets_a_schedule_and_a_viewer_reads_it(
    operator: User, viewer: User, token_client: ClientFactory
) -> None:
    instance = create_instance()
    assert put(token_client(operator), instance.pk, SCHEDULE).status_code == 200
    body = token_client(viewer).get(url(instance.pk)).json()
    assert body["timezone"] == "Europe/Paris"
    assert body["awake_windows"][0]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert body["timed_sleeps"] == [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                     "at": "01:00", "level": 2}]  # fmt: skip
    assert len(body["upcoming"]) == 5
    assert {item["action"] for item in body["upcoming"]} <= {"wake", "sleep"}


def test_a_viewer_cannot_set_a_schedule(viewer: User, token_client: ClientFactory) -> None:
    instance = create_instance()
    assert put(token_client(viewer), instance.pk, SCHEDULE).status_code == 403
    assert not InstanceSchedule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**SCHEDULE, "timezone": "Nowhere/Land"}, "timezone", "unknown time zone"),
        ({"awake_windows": [{**WORKDAYS, "end": "7pm"}]}, "awake_windows", "not a time of day"),
        ({"awake_windows": [{**WORKDAYS, "days": ["mon", "caturday"]}]}, "awake_windows",
         "unknown day 'caturday'"),
        ({"awake_windows": [WORKDAYS, {**WORKDAYS, "start": "18:00", "end": "20:00"}]},
         "non_field_errors", "awake windows 1 and 2 overlap on mon,tue,wed,thu,fri"),
        ({"timed_sleeps": [{**NIGHTLY_L2, "level": 0}]}, "timed_sleeps", "not a sleep level"),
        ({"awake_windows": "mon-fri 08:00-19:00"}, "awake_windows", "list"),
        ({**SCHEDULE, "colour": "blue"}, "colour", "Unknown field"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_a_400_naming_the_field_and_keeps_the_old_one(
    operator: User, token_client: ClientFactory, body: Any, field: str, message: str
) -> None:
    instance = create_instance()
    client = token_client(operator)
    put(client, instance.pk, SCHEDULE)
    response = put(client, instance.pk, body)
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert InstanceSchedule.objects.get(instance=instance).timezone == "Europe/Paris"


def test_changes_are_audited_with_their_outcome(
    operator: User, viewer: User, token_client: ClientFactory
) -> None:
    instance = create_instance()
    put(token_client(operator), instance.pk, SCHEDULE)
    put(token_client(operator), instance.pk, {"timezone": "Mars/Base"})
    put(token_client(viewer), instance.pk, SCHEDULE)
    token_client(operator).delete(url(instance.pk))
    entries = AuditEntry.objects.filter(target_id=str(instance.pk)).order_by("pk")
    assert [(e.action, e.outcome) for e in entries] == [
        ("schedule.put", Outcome.OK), ("schedule.put", Outcome.FAILED),
        ("schedule.put", Outcome.REFUSED), ("schedule.delete", Outcome.OK),
    ]  # fmt: skip


def test_deleting_the_schedule_leaves_the_instance_without_one(
    operator: User, token_client: ClientFactory
) -> None:
    instance = create_instance()
    put(token_client(operator), instance.pk, SCHEDULE)
    assert token_client(operator).delete(url(instance.pk)).status_code == 204
    assert not InstanceSchedule.objects.filter(instance=instance).exists()


def test_a_schedule_of_an_unknown_instance_is_a_404(
    operator: User, token_client: ClientFactory
) -> None:
    assert put(token_client(operator), 999999, SCHEDULE).status_code == 404
