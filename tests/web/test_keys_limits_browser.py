"""The Keys page in a real browser: a new key's Copy button, and a key's limits changed from
its row."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from console.models.gateway import InferenceKey
from console.roles import Role
from tests.console.conftest import create_user
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN)


@pytest.fixture
def limited_key(transactional_db: None) -> InferenceKey:
    return InferenceKey.issue("limited", [], requests_per_minute=3, max_concurrent=2)[0]


def key_row(page: Page, name: str) -> Locator:
    return page.locator("#keys tbody tr", has_text=name)


def test_an_issued_key_is_copied_and_its_limit_changed_on_the_page(
    live_console: LiveConsole, admin_user: User, page: Page
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/keys/")
    page.fill("#id_name", "my-app")
    page.get_by_role("button", name="Issue a key").click()
    issued = page.locator("#issued-key")
    issued.get_by_role("button", name="Copy").click()
    expect(issued.get_by_role("button", name="Copied")).to_be_visible()
    key = page.locator("#issued-key-value").inner_text().strip()
    assert key.startswith("vlc-")
    assert page.evaluate("navigator.clipboard.readText()") == key

    row = key_row(page, "my-app")
    expect(row.locator("td.limits")).to_have_text("none")
    row.get_by_text("Edit limits").click()
    row.get_by_label("Requests per minute").fill("7")
    row.get_by_role("button", name="Save limits").click()
    expect(key_row(page, "my-app").locator("td.limits")).to_have_text("7 req/min")
    expect(page.locator("#issued-key")).to_have_count(0)  # shown once: not after the edit


def test_a_bad_limit_is_shown_with_its_error_in_the_keys_row(
    live_console: LiveConsole, admin_user: User, limited_key: InferenceKey, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/keys/")
    row = key_row(page, "limited")
    row.get_by_text("Edit limits").click()
    row.get_by_label("Max concurrent").fill("0")
    row.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("alert")).to_contain_text("The limits of limited were not changed")
    row = key_row(page, "limited")
    error = row.locator(f"#key-{limited_key.pk}-max_concurrent_error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("greater than or equal to 1")
    expect(row.get_by_label("Max concurrent")).to_have_value("0")
    expect(row.locator("td.limits")).to_have_text("3 req/min 2 at once")
