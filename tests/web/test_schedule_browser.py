"""In a real browser: an operator sets an instance's schedule on its page and sees what it
does next; a refused line is shown beside its field; a viewer sees the schedule, no form."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Instance, InstanceSchedule
from tests.console.conftest import create_instance
from tests.web.conftest import LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def office_instance(transactional_db: None) -> Instance:
    return create_instance(name="office-hours")


def open_schedule(live_console: LiveConsole, user: User, instance: Instance, page: Page) -> None:
    live_console.sign_in(page, user)
    page.goto(f"{live_console.url}/instances/{instance.pk}/")


def test_an_operator_sets_the_schedule_from_the_instance_page(
    live_console: LiveConsole, operator_user: User, office_instance: Instance, page: Page
) -> None:
    open_schedule(live_console, operator_user, office_instance, page)
    expect(page.locator("#schedule-summary")).to_contain_text("No schedule")
    page.fill("#id_timezone", "Europe/Paris")
    page.fill("#id_awake_windows_text", "mon-fri 08:00-19:00")
    page.fill("#id_timed_sleeps_text", "daily 01:00 level 2")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#schedule-summary")).to_contain_text("In Europe/Paris")
    expect(page.locator("#schedule-upcoming li")).to_have_count(5)
    expect(page.locator("#id_timed_sleeps_text")).to_have_value(
        "mon,tue,wed,thu,fri,sat,sun 01:00 level 2"
    )
    saved = orm(lambda: InstanceSchedule.objects.get(instance_id=office_instance.pk))
    assert saved.awake_windows == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "19:00"}
    ]


def test_an_overlapping_window_is_refused_and_the_typed_lines_are_kept(
    live_console: LiveConsole, operator_user: User, office_instance: Instance, page: Page
) -> None:
    open_schedule(live_console, operator_user, office_instance, page)
    page.fill("#id_awake_windows_text", "mon-fri 08:00-19:00\nfri 18:00-22:00")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#schedule .error").first).to_have_text(
        "awake windows 1 and 2 overlap on fri"
    )
    expect(page.locator("#id_awake_windows_text")).to_have_value(
        "mon-fri 08:00-19:00\nfri 18:00-22:00"
    )
    assert not orm(lambda: InstanceSchedule.objects.exists())


def test_a_line_in_the_wrong_form_is_shown_beside_its_field(
    live_console: LiveConsole, operator_user: User, office_instance: Instance, page: Page
) -> None:
    open_schedule(live_console, operator_user, office_instance, page)
    page.fill("#id_timed_sleeps_text", "nightly at one")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#field-timed_sleeps .field-error")).to_contain_text(
        "line 1: write DAYS HH:MM level N"
    )


def test_a_viewer_sees_the_schedule_but_no_form(
    live_console: LiveConsole, viewer_user: User, office_instance: Instance, page: Page
) -> None:
    sunday = [{"days": ["sun"], "at": "03:00", "level": 1}]
    pk = office_instance.pk
    orm(lambda: InstanceSchedule.objects.create(instance_id=pk, timed_sleeps=sunday))
    open_schedule(live_console, viewer_user, office_instance, page)
    upcoming = page.locator("#schedule-upcoming li").first
    expect(upcoming).to_contain_text("sleep level 1 sun at 03:00")
    expect(page.locator("#schedule-form")).to_have_count(0)
