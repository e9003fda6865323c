"""Job rows the instance page adds live: the same cells as the rows the server rendered."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Instance, InstanceState, JobKind
from console.realtime.payloads import api_time
from tests.console.conftest import create_instance, create_job
from tests.web.conftest import LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def awake(transactional_db: None) -> Instance:
    """An instance the console believes awake (no engine behind it)."""
    return create_instance(state=InstanceState.AWAKE)


def test_a_job_row_added_live_says_who_asked_and_when(
    live_console: LiveConsole, operator_user: User, awake: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    page.goto(f"{live_console.url}/instances/{awake.pk}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    job = orm(lambda: create_job(awake, JobKind.SLEEP, requested_by=operator_user))
    row = page.locator(f"#job-{job.pk}")
    expect(row.locator('[data-field="by"]')).to_have_text(operator_user.username)
    created = row.locator('[data-field="created"]')
    expect(created).to_have_attribute("datetime", api_time(job.created_at))
