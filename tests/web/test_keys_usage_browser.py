"""The Keys page's usage chart in a real browser: a line per key, a point per hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from console.models.gateway import InferenceKey, KeyUsage
from console.roles import Role
from tests.console.conftest import create_user
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN)


@pytest.fixture
def used_keys(transactional_db: None) -> list[InferenceKey]:
    """Two keys with usage in three distinct hours of the last day (two in the same hour)."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    alpha, beta = InferenceKey.issue("alpha", [])[0], InferenceKey.issue("beta", [])[0]
    for key, hours_ago in ((alpha, 2), (alpha, 5), (beta, 5), (beta, 9)):
        KeyUsage.objects.create(key=key, model="org/m", hour=hour - timedelta(hours=hours_ago),
                                requests=1, prompt_tokens=10, completion_tokens=5)  # fmt: skip
    return [alpha, beta]


def test_the_keys_page_charts_tokens_per_hour_of_each_key(
    live_console: LiveConsole, admin_user: User, used_keys: list[InferenceKey], page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/keys/")
    chart = page.locator("#usage-chart")
    expect(chart).to_have_attribute("data-points", "3")
    expect(chart.locator("[data-field='message']")).to_be_hidden()
    expect(chart.locator(".u-legend")).to_contain_text("alpha")
    expect(chart.locator(".u-legend")).to_contain_text("beta")


def test_without_usage_the_chart_says_so(
    live_console: LiveConsole, admin_user: User, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/keys/")
    message = page.locator("#usage-chart [data-field='message']")
    expect(message).to_have_text("No key used any token in the last 7 days.")
