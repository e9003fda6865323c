"""Issue 15 item 12: every page works in chromium under the Content-Security-Policy, and
chromium reports no violation (the pages load only their own scripts, styles and sockets)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import ConsoleMessage, Page, expect

from console.models import Instance
from console.roles import Role
from tests.console.conftest import create_instance, create_job, create_user
from tests.web.conftest import LiveConsole, orm


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN, username="ada")


@pytest.fixture
def listed(transactional_db: None) -> Instance:
    return create_instance(name="listed")


def violations(page: Page) -> list[str]:
    """Chromium logs each blocked load or inline code to the console; collect them."""
    seen: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.on("console", keep)
    return seen


def test_every_page_runs_under_the_policy_without_a_violation(
    live_console: LiveConsole, admin_user: User, listed: Instance, page: Page
) -> None:
    seen = violations(page)
    live_console.sign_in(page, admin_user)
    # Live means the page's module ran and its websocket to the console opened.
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    page.goto(f"{live_console.url}/instances/{listed.pk}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    job = orm(lambda: create_job(listed))
    page.goto(f"{live_console.url}/jobs/{job.pk}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    for path in ("/history/", "/audit/", "/keys/", "/hosts/", "/users/", "/tokens/"):
        page.goto(f"{live_console.url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_console.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("vLLM Console API")
    assert seen == []
