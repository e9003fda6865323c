"""In a real browser: an operator sets an instance's idle ladder and pins it from
the instance page; a refused value is shown beside its field."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Instance
from tests.console.conftest import create_instance
from tests.web.conftest import LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def idle_instance(transactional_db: None) -> Instance:
    return create_instance(name="idle-one")


def test_an_operator_sets_the_idle_ladder_from_the_instance_page(
    live_console: LiveConsole, operator_user: User, idle_instance: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    page.goto(f"{live_console.url}/instances/{idle_instance.pk}/")
    page.fill("#id_idle_sleep_l1_seconds", "120")
    page.fill("#id_idle_sleep_l2_seconds", "900")
    page.click("#idle-form button[type=submit]")
    expect(page.locator("#idle-summary")).to_have_text(
        "Asleep after 120 s without a request (level 1), then 900 s (level 2)."
    )
    page.check("#id_pinned_awake")
    page.click("#idle-form button[type=submit]")
    expect(page.locator("#idle-summary")).to_contain_text("Pinned awake")
    saved = orm(lambda: Instance.objects.get(pk=idle_instance.pk))
    assert (saved.idle_sleep_l1_seconds, saved.idle_sleep_l2_seconds) == (120, 900)
    assert saved.pinned_awake


def test_a_level_2_time_before_level_1_is_shown_beside_its_field(
    live_console: LiveConsole, operator_user: User, idle_instance: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    page.goto(f"{live_console.url}/instances/{idle_instance.pk}/")
    page.fill("#id_idle_sleep_l1_seconds", "600")
    page.fill("#id_idle_sleep_l2_seconds", "60")
    page.click("#idle-form button[type=submit]")
    expect(page.locator("#field-idle_sleep_l2_seconds .field-error")).to_have_text(
        "Must be longer than the level-1 idle time."
    )
    expect(page.locator("#id_idle_sleep_l1_seconds")).to_have_value("600")
