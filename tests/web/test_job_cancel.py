"""Cancelling a queued job from the instance page, seen live by every page open on it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Job, JobState
from tests.console.conftest import create_instance, create_job
from tests.web.conftest import LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def queued(transactional_db: None) -> Job:
    """A job waiting in the queue: no worker runs in these tests, so it stays queued."""
    return create_job(create_instance(name="alpha"), state=JobState.QUEUED)


def open_instance_page(console: LiveConsole, page: Page, user: User, job: Job) -> None:
    console.sign_in(page, user)
    page.goto(f"{console.url}/instances/{job.instance_id}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")


def test_operator_cancels_a_queued_job_and_a_viewer_sees_it_cancelled_live(
    live_console: LiveConsole,
    operator_user: User,
    viewer_user: User,
    queued: Job,
    page: Page,
) -> None:
    assert page.context.browser is not None
    watcher = page.context.browser.new_context().new_page()
    open_instance_page(live_console, watcher, viewer_user, queued)
    watched_row = watcher.locator(f"#job-{queued.pk}")
    expect(watched_row.locator('[data-field="state"]')).to_have_text("queued")
    assert watcher.locator("button[data-cancel]").count() == 0, "viewers get no Cancel"

    open_instance_page(live_console, page, operator_user, queued)
    row = page.locator(f"#job-{queued.pk}")
    row.get_by_role("button", name="Cancel").click()

    expect(row.locator('[data-field="state"]')).to_have_text("cancelled")
    expect(row.locator('[data-field="outcome"]')).to_have_text("cancelled by olga")
    expect(row.get_by_role("button", name="Cancel")).to_be_hidden()
    # The viewer's page never asked: the change reached it over its websocket.
    expect(watched_row.locator('[data-field="state"]')).to_have_text("cancelled")
    assert orm(lambda: Job.objects.get(pk=queued.pk).state) == JobState.CANCELLED


def test_a_finished_job_shows_no_cancel_button(
    live_console: LiveConsole, operator_user: User, transactional_db: None, page: Page
) -> None:
    done = orm(lambda: create_job(create_instance(name="beta"), state=JobState.SUCCEEDED))
    open_instance_page(live_console, page, operator_user, done)
    row = page.locator(f"#job-{done.pk}")
    expect(row.locator('[data-field="state"]')).to_have_text("succeeded")
    expect(row.get_by_role("button", name="Cancel")).to_be_hidden()
