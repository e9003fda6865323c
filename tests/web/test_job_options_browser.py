"""The instance page's "Operate with options" form in chromium: the action API's options
(a partial wake, a switch with its own sleep list, a level-2 sleep) on launched emulators
run by the real control worker; each answer shows the job, linked, or why it was refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Instance, InstanceState, Job, JobKind, JobState
from tests.jobs.conftest import run_job
from tests.web.conftest import LaunchedMaker, LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER = "#job-options-answer"


@pytest.fixture
def sleeping(launched: LaunchedMaker) -> Instance:
    """Asleep at level 1: 4 GiB of weights backed up in host RAM, 4 GiB of KV cache."""
    instance = launched("sleeper", weights_gib=4, kv_gib=4)
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    return instance


@pytest.fixture
def neighbour(launched: LaunchedMaker) -> Instance:
    """Awake on the same GPU, with room left beside it for the sleeper."""
    return launched("neighbour", weights_gib=3, kv_gib=3)


def ask(page: Page) -> tuple[int, Any, dict[str, Any]]:
    """Submit the form: the API's status, the body the page sent, the API's answer (once
    the page shows it)."""
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("#job-options-form button[type=submit]")
    response = answered.value
    expect(page.locator(ANSWER)).to_have_attribute("data-status", str(response.status))
    return response.status, response.request.post_data_json, response.json()


def ask_job(page: Page) -> tuple[Job, Any]:
    """Submit the form, see the new job linked and finished: the job as stored, and the
    body the page sent."""
    status, sent, body = ask(page)
    assert status == 202, body
    expect(page.locator(f"{ANSWER} a")).to_have_attribute("href", f"/jobs/{body['id']}/")
    state = page.locator(f"#job-{body['id']} [data-field='state']")
    expect(state).to_have_text("succeeded")
    return orm(lambda: Job.objects.get(pk=body["id"])), sent


def reloaded(instance: Instance) -> Instance:
    return orm(lambda: Instance.objects.get(pk=instance.pk))


def test_operator_wakes_the_weights_switches_with_a_sleep_list_and_sleeps_at_level_2(
    live_console: LiveConsole,
    operator_user: User,
    sleeping: Instance,
    neighbour: Instance,
    page: Page,
) -> None:
    live_console.sign_in(page, operator_user)
    page.goto(f"{live_console.url}/instances/{sleeping.pk}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    level = page.locator("#id_job_level")

    page.select_option("#id_job_action", "wake")
    expect(level).to_be_hidden()
    page.uncheck("input[name=tags][value=weights]")
    page.uncheck("input[name=tags][value=kv_cache]")
    status, _, _ = ask(page)
    assert status == 400
    expect(page.locator(ANSWER)).to_contain_text("tags:")

    page.check("input[name=tags][value=weights]")
    wake, _ = ask_job(page)
    assert wake.params == {"tags": ["weights"]}
    partly = reloaded(sleeping)
    assert (partly.state, partly.state_detail) == (InstanceState.SLEEPING, "partly awake: weights")

    page.select_option("#id_job_action", "switch")
    expect(page.locator("#id_job_sleep")).to_be_visible()
    page.select_option("#id_job_level", "2")
    page.select_option("#id_job_sleep", label="neighbour")
    switch, _ = ask_job(page)
    assert switch.params == {"level": 2, "sleep": [neighbour.pk]}
    assert reloaded(sleeping).state == InstanceState.AWAKE
    put_aside = reloaded(neighbour)
    assert (put_aside.state, put_aside.sleep_level) == (InstanceState.SLEEPING, 2)

    page.select_option("#id_job_action", "sleep")
    expect(page.locator("#id_job_sleep")).to_be_hidden()
    page.check("#id_job_queue")
    sleep, sent = ask_job(page)
    assert sent == {"queue": True, "level": 2}
    assert sleep.params == {"level": 2}
    assert sleep.requested_by_id == operator_user.pk
    asleep = reloaded(sleeping)
    assert (asleep.state, asleep.sleep_level) == (InstanceState.SLEEPING, 2)

    status, _, body = ask(page)
    assert status == 409
    expect(page.locator(ANSWER)).to_have_text(f"Refused: {body['detail']}")
