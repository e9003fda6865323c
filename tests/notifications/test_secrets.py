"""A rule's URL is a secret: no failure text, log line or page carries it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from console.models.notifications import NotificationDelivery
from console.notifications import delivery, targets
from console.roles import Role
from tests.console.conftest import create_user
from tests.notifications.conftest import RuleFactory
from tests.notifications.test_delivery import closed_port
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db
SECRET = "s3cret-Pa55word"


def test_a_failure_recorded_and_logged_never_holds_the_password(
    make_rule: RuleFactory, root_log: RootLog
) -> None:
    rule = make_rule(url=f"json://ops:{SECRET}@127.0.0.1:{closed_port()}/hook")
    made = delivery.open_test(rule, "ada")
    delivery.attempt(made.pk)
    error = NotificationDelivery.objects.get(pk=made.pk).error
    assert "Connection error" in error
    assert SECRET not in error
    failures = [line for line in root_log.lines if "failed" in line]
    assert failures, "the failure is logged"
    assert not [line for line in root_log.lines if SECRET in line]


class RootLog(logging.Handler):
    """What the console's own log handler (on the root logger) is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def root_log() -> Iterator[RootLog]:
    handler, root = RootLog(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_an_unparseable_url_never_reaches_the_log(root_log: RootLog) -> None:
    with pytest.raises(targets.BadTargetError) as refused:
        targets.parse(f"json://ops:{SECRET}@[")
    assert SECRET not in str(refused.value)
    assert not [line for line in root_log.lines if SECRET in line]


def test_a_webhook_token_in_the_path_is_scrubbed_from_text() -> None:
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    text = f"posting to {url} failed; token TIiajkdnlazkcOXrIdevi7FQ refused"
    scrubbed = targets.scrub(text, url)
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in scrubbed
    assert "A1BRTD4JD" not in scrubbed


def test_the_mask_hides_the_password_and_shows_where_alerts_go() -> None:
    assert targets.masked(f"json://ops:{SECRET}@alerts.example:8080/hook?x=1") == (
        "json://ops:****@alerts.example:8080/hook"
    )


def test_the_alerts_pages_never_show_the_url(make_rule: RuleFactory, receiver: Receiver) -> None:
    rule = make_rule(url=receiver.url(auth=f"ops:{SECRET}"))
    client = Client()
    client.force_login(create_user(Role.ADMIN))
    for path in ("/alerts/", f"/alerts/{rule.pk}/"):
        page = client.get(path)
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        assert "ops:****@127.0.0.1" in page.content.decode()
