"""Rows added and changed live say what the first render says: states in words, GPUs by
number, and no Launch or Stop for an engine registered by URL (only an explanation)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Instance, InstanceState, transition
from tests.console.conftest import create_host, create_instance
from tests.web.conftest import LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def registered(transactional_db: None) -> Instance:
    """An instance already on the page, so that the page's live feed is open."""
    return create_instance(state=InstanceState.AWAKE)


def test_an_engine_registered_by_url_live_gets_no_launch_or_stop_and_says_why(
    live_console: LiveConsole, operator_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    adopted = orm(lambda: create_instance(served_model_name="org/adopted", host=None))
    row = page.locator(f"#instance-{adopted.pk}")
    expect(row.locator("[data-field='model']")).to_have_text("org/adopted")
    expect(row.locator("[data-action='switch']")).to_have_count(1)
    expect(row.locator("[data-action='launch'], [data-action='stop']")).to_have_count(0)
    expect(row.locator("[data-field='adopted']")).to_be_visible()


def test_a_live_state_and_gpus_read_as_words(
    live_console: LiveConsole, operator_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")

    def two_gpu_instance() -> Instance:
        host = create_host("h-two", gpus=2)
        return create_instance(host=host, gpus=list(host.gpus.all()))

    late = orm(two_gpu_instance)
    row = page.locator(f"#instance-{late.pk}")
    expect(row.locator("[data-field='gpus']")).to_have_text("GPUs 0, 1")
    expect(row.locator("[data-field='adopted']")).to_be_hidden()
    orm(lambda: transition(late.pk, {InstanceState.STOPPED}, InstanceState.AWAKE))
    orm(lambda: transition(late.pk, {InstanceState.AWAKE}, InstanceState.FALLING_ASLEEP))
    expect(row.locator("[data-field='state']")).to_have_text("falling asleep")


def test_an_instance_that_fails_live_says_why_under_its_badge(
    live_console: LiveConsole, operator_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    row = page.locator(f"#instance-{registered.pk}")
    expect(row.locator("[data-field='detail']")).to_be_hidden()
    why = "engine exited during startup (exit code 1): ValueError: Free memory on device"
    orm(lambda: transition(registered.pk, {InstanceState.AWAKE}, InstanceState.ERROR,
                           state_detail=why))  # fmt: skip
    expect(row.locator("[data-field='detail']")).to_have_text(why)
