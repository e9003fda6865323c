"""In a real browser: an admin does everything the README lists from the pages,
without a shell or the API, and a job's page follows its evidence live."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.jobs.evidence import attach
from console.models import Host, Instance, InstanceState, Job, JobKind, JobState
from console.models.jobs import transition_job
from console.roles import Role
from tests.console.conftest import create_instance, create_job, create_user
from tests.support.emulator import free_port
from tests.web.conftest import SECRET, LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NEW_PASSWORD = "violet-lantern-harbour-42"


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN, username="ada")


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def see_the_host_and_its_gpu(page: Page, host: Host) -> None:
    nav(page, "Hosts")
    card = page.locator(f"#host-{host.pk}")
    expect(card).to_contain_text(host.name)
    expect(card.locator("[data-field='online']")).to_have_text("online")
    expect(card.locator("tbody tr")).to_have_count(1)


def register_an_instance(page: Page, live_console: LiveConsole) -> None:
    nav(page, "Dashboard")
    page.click("#register-instance")
    page.fill("#id_name", "by-url")
    page.fill("#id_served_model_name", "org/by-url")
    page.fill("#id_base_url", f"http://127.0.0.1:{free_port()}")
    page.click("#instance-form button[type=submit]")
    page.wait_for_url(f"{live_console.url}/instances/*/")
    expect(page.locator("h1").first).to_contain_text("by-url")


def create_a_user_and_make_them_admin(page: Page) -> None:
    nav(page, "Users")
    page.fill("#id_username", "nina")
    page.select_option("#id_role", "operator")
    page.fill("#id_password1", NEW_PASSWORD)
    page.fill("#id_password2", NEW_PASSWORD)
    page.click("#new-user button[type=submit]")
    row = page.locator("tr[data-username='nina']")
    expect(row.locator("select[name=role]")).to_have_value("operator")
    row.locator("select[name=role]").select_option("admin")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator("tr[data-username='nina'] select[name=role]")).to_have_value("admin")


def issue_and_revoke_a_rest_token(page: Page) -> None:
    nav(page, "Tokens")
    page.select_option("#id_user", "nina")
    page.click("#issue-token button[type=submit]")
    key = page.locator("#issued-token-key")
    expect(key).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#issued-token button[data-copy]")).not_to_have_text("Copy")
    row = page.locator("#tokens tr[data-user='nina']")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#no-tokens")).to_be_visible()


def issue_and_revoke_an_inference_key(page: Page) -> None:
    nav(page, "Keys")
    page.fill("#id_name", "my-app")
    page.click("#issue-key button[type=submit]")
    expect(page.locator("#issued-key")).to_be_visible()
    row = page.locator("#keys tbody tr", has_text="my-app")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys tbody tr", has_text="my-app")).to_contain_text("revoked")


def open_a_jobs_detail(page: Page, live_console: LiveConsole, instance: Instance) -> None:
    nav(page, "Dashboard")
    job_link = page.locator(f"#instance-{instance.pk} a[data-field='job']")
    expect(job_link).to_have_attribute("href", re.compile(r"^/jobs/\d+/$"))
    page.goto(f"{live_console.url}/instances/{instance.pk}/")
    page.locator("#jobs tbody tr[data-state='succeeded'] a[href^='/jobs/']").first.click()
    page.wait_for_url(f"{live_console.url}/jobs/*/")
    expect(page.locator("h1").first).to_contain_text("launch")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#job-facts")).to_contain_text(instance.name)
    assert SECRET not in page.content()


def find_it_all_in_the_audit_log(page: Page) -> None:
    nav(page, "Audit")
    page.fill("#id_action", "user")
    page.click("#audit-filters button[type=submit]")
    table = page.locator("#audit")
    expect(table).to_contain_text("user.create")
    expect(table).to_contain_text("role: admin")
    expect(table).not_to_contain_text("token.issue")
    page.fill("#id_action", "token")
    page.click("#audit-filters button[type=submit]")
    expect(table).to_contain_text("token.revoke")


def test_an_admin_does_everything_the_readme_lists_from_the_pages(
    live_console: LiveConsole, admin_user: User, console_host: Host, alpha: Instance, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    see_the_host_and_its_gpu(page, console_host)
    register_an_instance(page, live_console)
    create_a_user_and_make_them_admin(page)
    issue_and_revoke_a_rest_token(page)
    issue_and_revoke_an_inference_key(page)
    open_a_jobs_detail(page, live_console, alpha)
    find_it_all_in_the_audit_log(page)


def test_the_last_admin_is_told_why_they_cannot_step_down(
    live_console: LiveConsole, admin_user: User, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    nav(page, "Users")
    row = page.locator("tr[data-username='ada']")
    row.locator("select[name=role]").select_option("viewer")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator("#refusal")).to_contain_text("without an active admin")


@pytest.fixture
def queued_job(transactional_db: None) -> Job:
    instance = create_instance(state=InstanceState.AWAKE)
    return create_job(instance, JobKind.SLEEP, params={"level": 1})


def test_a_jobs_page_follows_the_job_to_its_evidence(
    live_console: LiveConsole, admin_user: User, queued_job: Job, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/jobs/{queued_job.pk}/")
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    expect(page.locator("#job-state")).to_have_text("queued")

    def run() -> None:
        transition_job(queued_job.pk, {JobState.QUEUED}, JobState.RUNNING)
        step = {"step": "sleep", "instance": "x", "instance_id": queued_job.instance_id,
                "level": 1, "call_seconds": 0.4}  # fmt: skip
        transition_job(queued_job.pk, {JobState.RUNNING}, JobState.SUCCEEDED, wall_seconds=0.42,
                       outcome_detail={"steps": [step], "evidence": "pending"})  # fmt: skip

    orm(run)
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#job-evidence")).to_contain_text("pending")
    expect(page.locator("#job-steps")).to_contain_text("0.400 s")
    orm(lambda: attach(queued_job.pk))
    expect(page.locator("#job-evidence")).to_contain_text("complete")
