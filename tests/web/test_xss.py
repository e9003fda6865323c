"""Markup in every field a user, an engine or an agent can set stays text in a real browser.

Each field gets its own payload (so an assertion pins the field that shows it) in one of a
few shapes: a script element, an element with an event handler, a quote that closes an
attribute, a ``javascript:`` address, and template syntax (``{{7*7}}``, ``${7*7}``) that a
second rendering pass would evaluate. A payload that ran would set ``window.__xss`` or open
a dialog; ``assert_inert`` checks neither happened and that no handler reached the DOM,
after the server-rendered page and again after live websocket updates.

Instance and host names are slugs and usernames pass Django's username validator, so the
console refuses markup in them (``test_names_and_addresses_refuse_markup``), and the API
takes only 1 or 2 as a job's sleep level; the tests still write such values straight to
the database (a shell, an older console, a migration could), so the pages are checked
against them too. Fields no page shows are left out: an instance's base URL (http(s) only),
launch model, arguments and environment, and users' first and last names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from playwright.sync_api import Dialog, Locator, Page, expect

from console.models import (
    AuditEntry,
    EngineEvent,
    Gpu,
    Host,
    Instance,
    InstanceState,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Outcome,
    Subject,
    transition,
)
from console.realtime import notify, payloads
from console.realtime.publisher import publish
from console.roles import Role
from tests.console.conftest import PASSWORD, create_user
from tests.web.conftest import LiveConsole, orm

GIB = 1 << 30
XSS = "window.__xss=1"
SCRIPT = f"<script>{XSS}</script>"
IMG = f'<img src=x onerror="{XSS}">'
SVG = f'"><svg onload="{XSS}">'
ATTRIBUTE = f'" autofocus onfocus="{XSS}" x="'
ALERT = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{7*7}} ${7*7}"
JS_URL = f"javascript:{XSS}"

USERNAME = f"ann{SVG}"
INSTANCE_NAME = f"alpha{SCRIPT}"
MODEL = f"org/model{IMG}"
VLLM_VERSION = f"0.8 {TEMPLATE}"
DETAIL = f"down{ATTRIBUTE}"
HOST_NAME = f"gpu-h{SVG}"
ADDRESS = JS_URL
AGENT_VERSION = f"agent {TEMPLATE}"
GPU_NAME = f"H100{ATTRIBUTE}"
JOB_ERROR = f"engine said {SCRIPT}"
LEVEL = f"1{IMG}"
EVENT_KIND = ALERT
EVENT_MESSAGE = f"INFO slept {IMG} {TEMPLATE}"
AUDIT_USERNAME = f"gone{IMG}"
AUDIT_ACTION = f"act{SCRIPT}"
AUDIT_TYPE = IMG
AUDIT_REPR = f"target{SVG}"
AUDIT_DETAIL = f"said {ALERT} {TEMPLATE}"
# Pushed after the page loaded.
LIVE_DETAIL = f"lost{SVG}"
LIVE_ERROR = f"oom {ALERT}"
LIVE_LEVEL = f"2{SCRIPT}"
LIVE_EVENT_KIND = f"k{IMG}"
LIVE_EVENT_MESSAGE = f"woke {SVG} {TEMPLATE}"
LOG_LINE = f"INFO {SCRIPT} {IMG} {TEMPLATE}"
# What an instance's row says of its last job (static/js/rows.js jobText).
JOB_TEXT = f"sleep L{LEVEL} failed: {JOB_ERROR}"
LIVE_JOB_TEXT = f"sleep L{LIVE_LEVEL} failed: {LIVE_ERROR}"
NEW_NAME = f"beta{IMG}"
NEW_MODEL = f"org/new{SCRIPT}"
# Typed into the pages' forms.
INTRUDER = f"mallory{SCRIPT}"
KEY_NAME = f"client{SVG}"
KEY_MODELS = (f"m{IMG}", f"n{TEMPLATE}")

# What a payload that got parsed as HTML leaves in the DOM, run or not.
INJECTED = "[onload], [onerror], [onfocus], script:not([src]):not([type='application/json'])"


@dataclass(frozen=True)
class Seeded:
    """The rows, every user-settable field holding markup."""

    user: User
    host: Host
    gpu: Gpu
    instance: Instance
    job: Job


def seed_samples(host: Host, gpu: Gpu, instance: Instance) -> None:
    """Memory samples for the dashboard's bars, two hours old: the history page's last hour
    stays empty, so it says which subject has no samples (by its name)."""
    at = timezone.now() - timedelta(hours=2)
    MemorySample.objects.bulk_create([
        MemorySample(at=at, subject=Subject.GPU, gpu=gpu, used_bytes=10 * GIB,
                     total_bytes=80 * GIB, extra={"processes": {instance.name: 6 * GIB}}),
        MemorySample(at=at, subject=Subject.HOST, host=host, used_bytes=20 * GIB,
                     total_bytes=512 * GIB),
        MemorySample(at=at, subject=Subject.INSTANCE, host=host, instance=instance,
                     used_bytes=2 * GIB),
    ])  # fmt: skip


@pytest.fixture
def seeded(transactional_db: None) -> Seeded:
    user = create_user(Role.ADMIN, username=USERNAME)
    host = Host.objects.create(
        name=HOST_NAME, address=ADDRESS, agent_version=AGENT_VERSION,
        last_heartbeat=timezone.now(),
    )  # fmt: skip
    gpu = Gpu.objects.create(host=host, index=0, name=GPU_NAME, total_bytes=80 * GIB)
    instance = Instance.objects.create(
        name=INSTANCE_NAME, served_model_name=MODEL, base_url="http://127.0.0.1:9",
        vllm_version=VLLM_VERSION, state=InstanceState.AWAKE, state_detail=DETAIL, host=host,
        expected_weights_gib=4,
    )  # fmt: skip
    instance.gpus.set([gpu])
    job = Job.objects.create(
        instance=instance, kind=JobKind.SLEEP, state=JobState.FAILED, params={"level": LEVEL},
        error=JOB_ERROR, requested_by=user,
    )  # fmt: skip
    EngineEvent.objects.create(instance=instance, kind=EVENT_KIND, message=EVENT_MESSAGE)
    AuditEntry.objects.create(
        username=AUDIT_USERNAME, action=AUDIT_ACTION, target_type=AUDIT_TYPE,
        target_repr=AUDIT_REPR, outcome=Outcome.OK, detail={"note": AUDIT_DETAIL},
    )  # fmt: skip
    seed_samples(host, gpu, instance)
    return Seeded(user, host, gpu, instance, job)


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Messages of every dialog (alert, confirm...) the page opens; each is dismissed."""
    opened: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def assert_inert(page: Page, dialogs: list[str]) -> None:
    """No payload ran, opened a dialog, or became an element with a handler."""
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.locator(INJECTED).count() == 0


def expect_seeded_row(row: Locator) -> None:
    """The seeded instance's row (partials/instance_row.html), on either page."""
    expect(row.locator("[data-field='name']")).to_have_text(INSTANCE_NAME)
    expect(row.locator("[data-field='model']")).to_have_text(MODEL)
    expect(row.locator("[data-field='state']")).to_have_attribute("title", DETAIL)
    expect(row.locator("[data-field='host']")).to_have_text(HOST_NAME)


def wait_live(page: Page) -> None:
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")


def test_names_and_addresses_refuse_markup(db: None) -> None:
    instance = Instance(name=INSTANCE_NAME, served_model_name=MODEL, base_url=JS_URL)
    with pytest.raises(ValidationError) as refused:
        instance.full_clean()
    assert {"name", "base_url"} <= set(refused.value.message_dict)
    with pytest.raises(ValidationError, match="name"):
        Host(name=HOST_NAME).full_clean(validate_unique=False)
    with pytest.raises(ValidationError, match="username"):
        User(username=USERNAME, password="x").full_clean(validate_unique=False)


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_renders_every_field_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    wait_live(page)
    row = page.locator(f"#instance-{seeded.instance.pk}")
    expect_seeded_row(row)
    # Filled by the page's JS from the websocket's snapshot.
    expect(row.locator("[data-field='job']")).to_have_text(JOB_TEXT)
    card = page.locator(f"#host-{seeded.host.pk}")
    expect(card.locator("h2")).to_contain_text(HOST_NAME)
    expect(card.locator("p.muted").first).to_have_text(f"{ADDRESS} · agent {AGENT_VERSION}")
    expect(card.locator(f"#gpu-{seeded.gpu.pk} .bar-label")).to_have_attribute("title", GPU_NAME)
    gpu_bar = card.locator(f"[data-bar='gpu-{seeded.gpu.pk}']")
    weights = f"{INSTANCE_NAME} weights: 4.0 GiB"
    expect(gpu_bar.locator("[data-kind='weights']")).to_have_attribute("title", weights)
    host_bar = card.locator(f"[data-bar='host-{seeded.host.pk}']")
    rss = f"{INSTANCE_NAME} RSS: 2.0 GiB"
    expect(host_bar.locator("[data-kind='rss']")).to_have_attribute("title", rss)
    expect(page.locator(".who .username")).to_have_text(USERNAME)
    assert_inert(page, dialogs)


def push_dashboard_updates(seeded: Seeded) -> None:
    """A GPU and a host sample of the agent, a state change and a failed job, published."""
    host, gpu, instance = seeded.host, seeded.gpu, seeded.instance
    now = timezone.now()
    held = {"processes": {instance.name: 3 * GIB}}
    gpu_row = MemorySample(at=now, subject=Subject.GPU, gpu=gpu, used_bytes=10 * GIB,
                           total_bytes=80 * GIB, extra=held)  # fmt: skip
    host_row = MemorySample(at=now, subject=Subject.HOST, host=host, used_bytes=30 * GIB,
                            total_bytes=512 * GIB)  # fmt: skip
    publish(
        payloads.gpu_sample(host, gpu, gpu_row),
        payloads.host_sample(host, host_row, {instance.name: 3 * GIB}),
    )
    Job.objects.create(
        instance=instance, kind=JobKind.SLEEP, state=JobState.FAILED,
        params={"level": LIVE_LEVEL}, error=LIVE_ERROR,
    )  # fmt: skip
    transition(instance.pk, [InstanceState.AWAKE], InstanceState.ERROR, state_detail=LIVE_DETAIL)


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_live_updates_render_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    wait_live(page)
    orm(lambda: push_dashboard_updates(seeded))
    row = page.locator(f"#instance-{seeded.instance.pk}")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator("[data-field='state']")).to_have_attribute("title", LIVE_DETAIL)
    expect(row.locator("[data-field='job']")).to_have_text(LIVE_JOB_TEXT)
    weights = page.locator(f"[data-bar='gpu-{seeded.gpu.pk}'] [data-kind='weights']")
    expect(weights).to_have_attribute("title", f"{INSTANCE_NAME} weights: 3.0 GiB")
    rss = page.locator(f"[data-bar='host-{seeded.host.pk}'] [data-kind='rss']")
    expect(rss).to_have_attribute("title", f"{INSTANCE_NAME} RSS: 3.0 GiB")
    assert_inert(page, dialogs)


def add_instance(host: Host) -> Instance:
    return Instance.objects.create(
        name=NEW_NAME, served_model_name=NEW_MODEL, base_url="http://127.0.0.1:9", host=host
    )


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_row_of_an_instance_added_while_open_renders_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    wait_live(page)
    live_console.stop()
    added = orm(lambda: add_instance(seeded.host))
    live_console.start()
    # The snapshot sent on reconnecting brings the row; the page's JS builds it.
    row = page.locator(f"#instance-{added.pk}")
    expect(row.locator("[data-field='name']")).to_have_text(NEW_NAME)
    expect(row.locator("[data-field='model']")).to_have_text(NEW_MODEL)
    expect(row.locator("[data-field='host']")).to_have_text(HOST_NAME)
    assert_inert(page, dialogs)


@pytest.mark.browser
@pytest.mark.slow
def test_instance_page_renders_every_field_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    page.goto(f"{live_console.url}/instances/{seeded.instance.pk}/")
    wait_live(page)
    assert page.title() == f"{INSTANCE_NAME} · vLLM Console"
    expect(page.locator("h1").first).to_contain_text(INSTANCE_NAME)
    expect(page.locator("h1 + p.muted")).to_have_text(
        f"{MODEL} · vLLM {VLLM_VERSION} · 4.0 GiB weights"
    )
    row = page.locator(f"#instance-{seeded.instance.pk}")
    expect_seeded_row(row)
    job = page.locator(f"#job-{seeded.job.pk}")
    expect(job.locator("[data-field='kind']")).to_have_text(f"sleep L{LEVEL}")
    expect(job.locator("[data-field='by']")).to_have_text(USERNAME)
    expect(job.locator("[data-field='outcome']")).to_have_text(JOB_ERROR)
    event = page.locator("#events tbody tr").first
    expect(event.locator("[data-field='kind']")).to_have_text(EVENT_KIND)
    expect(event.locator("[data-field='message']")).to_have_text(EVENT_MESSAGE)
    # The memory chart's legend (uPlot) names the instance's own series.
    expect(page.locator("#memory-chart .u-legend")).to_contain_text(f"held by {INSTANCE_NAME}")
    assert_inert(page, dialogs)


def push_instance_updates(seeded: Seeded) -> Job:
    """A log line, an engine event, a failed job and a state change, published."""
    instance = seeded.instance
    publish(*notify.log_line_events(instance.pk, [LOG_LINE]))
    EngineEvent.objects.create(instance=instance, kind=LIVE_EVENT_KIND, message=LIVE_EVENT_MESSAGE)
    job = Job.objects.create(
        instance=instance, kind=JobKind.SLEEP, state=JobState.FAILED,
        params={"level": LIVE_LEVEL}, error=LIVE_ERROR,
    )  # fmt: skip
    transition(instance.pk, [InstanceState.AWAKE], InstanceState.ERROR, state_detail=LIVE_DETAIL)
    return job


@pytest.mark.browser
@pytest.mark.slow
def test_instance_page_live_log_events_jobs_and_state_render_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    page.goto(f"{live_console.url}/instances/{seeded.instance.pk}/")
    wait_live(page)
    job = orm(lambda: push_instance_updates(seeded))
    expect(page.locator("#log-tail")).to_have_text(LOG_LINE)
    event = page.locator("#events tbody tr").first
    expect(event.locator("[data-field='kind']")).to_have_text(LIVE_EVENT_KIND)
    expect(event.locator("[data-field='message']")).to_have_text(LIVE_EVENT_MESSAGE)
    job_row = page.locator(f"#job-{job.pk}")
    expect(job_row.locator("[data-field='kind']")).to_have_text(f"sleep L{LIVE_LEVEL}")
    expect(job_row.locator("[data-field='outcome']")).to_have_text(LIVE_ERROR)
    row = page.locator(f"#instance-{seeded.instance.pk}")
    expect(row).to_have_attribute("data-state", "error")
    expect(row.locator("[data-field='state']")).to_have_attribute("title", LIVE_DETAIL)
    expect(row.locator("[data-field='job']")).to_have_text(LIVE_JOB_TEXT)
    assert_inert(page, dialogs)


@pytest.mark.browser
@pytest.mark.slow
def test_history_page_renders_subject_names_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    host_label = f"Host {HOST_NAME} RAM"
    live_console.sign_in(page, seeded.user)
    page.goto(f"{live_console.url}/history/?subject=host:{seeded.host.pk}&range=1h")
    options = [f"GPU {HOST_NAME}:0", host_label, f"Instance {INSTANCE_NAME}"]
    expect(page.locator("#history-subject option")).to_have_text(options)
    chart = page.locator("#history-chart")
    expect(chart.locator("figcaption")).to_have_text(f"Memory used: {host_label}, last hour")
    # Written by the page's JS once the history API answered with no point.
    message = f"No samples of {host_label} in this range."
    expect(chart.locator("[data-field='message']")).to_have_text(message)
    assert_inert(page, dialogs)
    page.goto(f"{live_console.url}/history/?subject=instance:{seeded.instance.pk}&range=1h")
    caption = f"Memory used: Instance {INSTANCE_NAME}, last hour"
    expect(chart.locator("figcaption")).to_have_text(caption)
    expect(chart.locator("[data-field='message']")).to_contain_text(INSTANCE_NAME)
    assert_inert(page, dialogs)


def sign_in_refused(live_console: LiveConsole, page: Page) -> None:
    page.goto(f"{live_console.url}/login/")
    page.fill("#id_username", INTRUDER)
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")


@pytest.mark.browser
@pytest.mark.slow
def test_login_and_audit_pages_render_every_field_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    sign_in_refused(live_console, page)
    expect(page.locator("#id_username")).to_have_value(INTRUDER)
    assert_inert(page, dialogs)
    live_console.sign_in(page, seeded.user)
    page.goto(f"{live_console.url}/audit/")
    audit = page.locator("#audit tbody")
    seeded_row = audit.locator("tr", has_text=AUDIT_ACTION)
    expect(seeded_row.locator("td").nth(1)).to_have_text(AUDIT_USERNAME)
    expect(seeded_row.locator("td").nth(2)).to_have_text(AUDIT_ACTION)
    expect(seeded_row.locator("td").nth(3)).to_have_text(f"{AUDIT_TYPE} {AUDIT_REPR}")
    expect(seeded_row.locator("td").nth(6)).to_contain_text(AUDIT_DETAIL)
    refused = audit.locator("tr", has_text="refused")
    expect(refused.locator("td").nth(1)).to_have_text(INTRUDER)
    signed_in = audit.locator("tr", has_text="user.login").filter(has_text="ok")
    expect(signed_in.locator("td").nth(1)).to_have_text(USERNAME)
    expect(signed_in.locator("td").nth(3)).to_have_text(f"user {USERNAME}")
    assert_inert(page, dialogs)


@pytest.mark.browser
@pytest.mark.slow
def test_keys_page_renders_a_key_name_and_models_as_text(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    live_console.sign_in(page, seeded.user)
    page.goto(f"{live_console.url}/keys/")
    page.fill("#id_name", KEY_NAME)
    page.fill("#id_models", ", ".join(KEY_MODELS))
    page.get_by_role("button", name="Issue a key").click()
    expect(page.locator("#issued-key strong")).to_have_text(KEY_NAME)
    key = page.locator("#keys tbody tr").first
    expect(key.locator("td").nth(0)).to_have_text(KEY_NAME)
    expect(key.locator("td").nth(2)).to_have_text(", ".join(KEY_MODELS))
    expect(key.locator("td").nth(4)).to_contain_text(f"by {USERNAME}")  # after Limits
    assert_inert(page, dialogs)
    page.goto(f"{live_console.url}/keys/")
    expect(page.locator("#keys tbody tr").first.locator("td").first).to_have_text(KEY_NAME)
    assert_inert(page, dialogs)


@pytest.mark.browser
@pytest.mark.slow
def test_a_javascript_next_address_is_not_followed_after_sign_in(
    live_console: LiveConsole, seeded: Seeded, page: Page, dialogs: list[str]
) -> None:
    page.goto(f"{live_console.url}/login/?next={quote(JS_URL)}")
    # Django's LoginView drops an address that is not on this host over http(s).
    expect(page.locator("input[name=next]")).to_have_value("")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_console.url}/")
    assert_inert(page, dialogs)
