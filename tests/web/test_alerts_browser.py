"""The Alerts page in chromium: an admin adds a rule, sends a test through the real worker
and sees it delivered; the rule's URL is never put back into the page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.roles import Role
from tests.console.conftest import create_user
from tests.support.console import control_worker
from tests.support.receiver import Receiver, running_receiver
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SECRET = "hook-Pa55word-0123"


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN, username="ada")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[None]:
    with control_worker(tmp_path / "control"):
        yield


def test_an_admin_adds_a_rule_sends_a_test_and_sees_it_delivered(
    live_console: LiveConsole, admin_user: User, receiver: Receiver, worker: None, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.fill("#id_name", "on-call")
    page.fill("#id_url", receiver.url(auth=f"ops:{SECRET}"))
    page.get_by_label("an engine's process died").check()
    page.click("#add-rule button[type=submit]")
    row = page.locator("tr[data-rule='on-call']")
    expect(row).to_contain_text("engine_died")
    expect(row).to_contain_text(f"json://ops:****@127.0.0.1:{receiver.port}/hook")

    row.get_by_role("button", name="Send a test").click()
    (body,) = receiver.wait_for(1, timeout=30)
    assert body["title"] == "vLLM Console: test"
    deadline = time.monotonic() + 30  # the worker records it just after the receiver answers
    while not page.locator(".delivery-sent").count() and time.monotonic() < deadline:
        page.reload()
    expect(page.locator(".delivery-sent")).to_contain_text("a test of rule on-call, sent by ada")

    row.get_by_role("link", name="on-call").click()
    expect(page.locator("#id_url")).to_have_value("")
    assert SECRET not in page.content()
