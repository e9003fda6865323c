"""The live pages in a real browser, against the real console with emulated engines.

Fixtures that write rows or launch engines come before ``page`` in each signature, and the
tests reach the database through ``orm`` (see ``tests/web/conftest.py::page``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, WebSocket, expect

from console.models import (
    Gpu,
    Host,
    Instance,
    InstanceState,
    MemorySample,
    Resolution,
    Subject,
    transition,
)
from console.realtime import payloads
from console.realtime.publisher import publish
from tests.console.conftest import create_host, create_instance
from tests.web.conftest import SECRET, LiveConsole, orm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GIB = 1 << 30
SCRIPT = "<script>window.injected = true</script>"

# Every value the row's state takes, recorded as it happens: a state that lasts less than
# a polling interval (falling_asleep) is still seen.
RECORD_STATES = """(id) => {
  const row = document.getElementById(`instance-${id}`);
  window.seenStates = [row.dataset.state];
  new MutationObserver(() => {
    if (window.seenStates.at(-1) !== row.dataset.state) window.seenStates.push(row.dataset.state);
  }).observe(row, { attributes: true, attributeFilter: ["data-state"] });
}"""


@pytest.fixture
def scripted(transactional_db: None) -> Instance:
    """An instance whose model name is a script."""
    return create_instance(served_model_name=SCRIPT)


@pytest.fixture
def registered(transactional_db: None) -> Instance:
    """An instance the console believes awake (no engine behind it)."""
    return create_instance(state=InstanceState.AWAKE)


@pytest.fixture
def sampled_host(transactional_db: None) -> Host:
    """A host with 50 minutes of RAM history: raw samples and their minute rollups (the
    history API picks the resolution; either holds points)."""
    host = create_host("gpu-h")
    now = timezone.now().replace(second=0, microsecond=0)
    raw = (
        MemorySample(at=now - timedelta(seconds=s), subject=Subject.HOST, host=host,
                     used_bytes=(100 + s % 7) * GIB, total_bytes=512 * GIB)
        for s in range(60, 3000, 10)
    )  # fmt: skip
    minutes = (
        MemorySample(at=now - timedelta(minutes=m), resolution=Resolution.MINUTE,
                     subject=Subject.HOST, host=host, used_bytes=100 * GIB,
                     min_used_bytes=99 * GIB, max_used_bytes=106 * GIB, total_bytes=512 * GIB)
        for m in range(1, 51)
    )  # fmt: skip
    MemorySample.objects.bulk_create([*raw, *minutes])
    return host


def gpu_bar(instance: Instance) -> str:
    gpu = Gpu.objects.get(instances=instance)
    return f'[data-bar="gpu-{gpu.pk}"]'


def used_bytes(page: Page, bar: str) -> int:
    return int(page.get_attribute(bar, "data-used-bytes") or 0)


def wait_used(page: Page, bar: str, predicate: str) -> None:
    """Wait until the bar's used bytes (``used``) satisfy ``predicate`` (a JS expression)."""
    page.wait_for_function(
        f"() => {{ const used = Number(document.querySelector('{bar}').dataset.usedBytes);"
        f" return {predicate}; }}"
    )


def wait_for_frames(page: Page, frames: list[str], types: set[str], timeout: float = 30) -> None:
    """Let the page run until websocket frames of every one of ``types`` have arrived."""
    deadline = time.monotonic() + timeout
    while not types <= {json.loads(frame)["type"] for frame in frames}:
        assert time.monotonic() < deadline, f"no {types} frames in {timeout} s"
        page.wait_for_timeout(100)


def wait_live(page: Page) -> None:
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")


def test_operator_sleeps_and_wakes_an_instance_and_sees_it_live(
    live_console: LiveConsole,
    operator_user: User,
    alpha: Instance,
    beta: Instance,
    page: Page,
) -> None:
    live_console.sign_in(page, operator_user)
    wait_live(page)
    row = page.locator(f"#instance-{alpha.pk}")
    bar = orm(lambda: gpu_bar(alpha))
    wait_used(page, bar, f"used >= {13 * GIB}")
    awake_bytes = used_bytes(page, bar)
    page.evaluate(RECORD_STATES, alpha.pk)

    row.get_by_role("button", name="Sleep L1").click()
    expect(row).to_have_attribute("data-state", "sleeping")
    assert page.evaluate("window.seenStates") == ["awake", "falling_asleep", "sleeping"]
    expect(row.locator('[data-field="state"]')).to_have_text("sleeping · L1")
    expect(row.locator('[data-field="job"]')).to_contain_text("sleep L1 done")
    wait_used(page, bar, f"used <= {awake_bytes - 7 * GIB}")

    row.get_by_role("button", name="Wake").click()
    expect(row).to_have_attribute("data-state", "awake")
    expect(row.locator('[data-field="job"]')).to_contain_text("wake done")
    wait_used(page, bar, f"used >= {awake_bytes - GIB // 2}")
    assert page.evaluate("window.seenStates")[-2:] == ["waking", "awake"]

    beta_row = page.locator(f"#instance-{beta.pk}")
    beta_row.get_by_role("button", name="Sleep L1").click()
    expect(beta_row.locator('[data-field="job"]')).to_contain_text("sleep L1 done")


def test_viewer_sees_no_buttons_and_its_websocket_never_carries_an_api_key(
    live_console: LiveConsole, viewer_user: User, alpha: Instance, page: Page
) -> None:
    frames: list[str] = []

    def follow(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", follow)
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    expect(page.locator(f"#instance-{alpha.pk}")).to_have_attribute("data-state", "awake")
    assert page.locator("button[data-action]").count() == 0
    assert page.locator("[data-actions-for]").count() == 0
    wait_for_frames(page, frames, {"snapshot", "gpu.sample", "host.sample"})
    assert '"name": "alpha"' in frames[0]
    assert not [frame for frame in frames if SECRET in frame]


def test_instance_page_charts_memory_with_points(
    live_console: LiveConsole, viewer_user: User, alpha: Instance, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    page.goto(f"{live_console.url}/instances/{alpha.pk}/")
    wait_live(page)
    chart = page.locator("#memory-chart")
    page.wait_for_function(
        "() => Number(document.getElementById('memory-chart').dataset.points) >= 2"
    )
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator('[data-field="message"]')).to_be_hidden()


def test_a_script_in_a_model_name_renders_as_text(
    live_console: LiveConsole, viewer_user: User, scripted: Instance, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    expect(page.locator(f"#instance-{scripted.pk} [data-field='model']")).to_have_text(SCRIPT)
    page.goto(f"{live_console.url}/instances/{scripted.pk}/")
    wait_live(page)
    expect(page.locator(f"#instance-{scripted.pk} [data-field='model']")).to_have_text(SCRIPT)
    assert page.evaluate("window.injected") is None


def test_dashboard_reconnects_by_itself_after_a_server_restart(
    live_console: LiveConsole, viewer_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    live_console.stop()
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "retrying")
    orm(lambda: Instance.objects.filter(pk=registered.pk).update(state=InstanceState.ERROR))
    live_console.start()
    wait_live(page)
    # The snapshot sent on reconnecting brings what changed while the page was cut off.
    expect(page.locator(f"#instance-{registered.pk}")).to_have_attribute("data-state", "error")


@pytest.fixture
def two_hours_old(transactional_db: None) -> Instance:
    """An instance that has been sleeping for two hours."""
    instance = create_instance(state=InstanceState.SLEEPING, sleep_level=1)
    Instance.objects.filter(pk=instance.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=2, seconds=30)
    )
    return instance


def test_the_since_column_keeps_counting_without_a_reload(
    live_console: LiveConsole, viewer_user: User, two_hours_old: Instance, page: Page
) -> None:
    page.clock.install()  # the page's clock, which the test moves forward
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    since = page.locator(f"#instance-{two_hours_old.pk} [data-field='since']")
    expect(since).to_have_text("2 hours ago")
    page.clock.run_for("01:05:00")
    expect(since).to_have_text("3 hours, 5 minutes ago")
    orm(lambda: transition(two_hours_old.pk, {InstanceState.SLEEPING}, InstanceState.AWAKE))
    expect(since).to_have_text("just now")
    page.clock.run_for("02:00")
    expect(since).to_have_text("2 minutes ago")


def test_an_instance_registered_after_the_page_loaded_gets_its_full_row(
    live_console: LiveConsole, viewer_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    late = orm(lambda: create_instance(served_model_name="org/late", host=create_host("h-late")))
    row = page.locator(f"#instance-{late.pk}")
    expect(row.locator("[data-field='model']")).to_have_text("org/late")
    expect(row.locator("[data-field='host']")).to_have_text("h-late")
    expect(row).to_have_attribute("data-state", "stopped")
    orm(lambda: transition(late.pk, {InstanceState.STOPPED}, InstanceState.ERROR))
    expect(row).to_have_attribute("data-state", "error")


def test_a_host_that_reports_after_the_page_loaded_gets_its_card(
    live_console: LiveConsole, viewer_user: User, registered: Instance, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    wait_live(page)
    expect(page.locator(".host")).to_have_count(0)

    def agent_reports() -> Host:
        host = create_host("late-host", gpus=1)
        gpu = Gpu.objects.get(host=host)
        row = MemorySample.objects.create(at=timezone.now(), subject=Subject.GPU, host=host,
                                          gpu=gpu, used_bytes=20 * GIB,
                                          total_bytes=80 * GIB)  # fmt: skip
        publish(payloads.gpu_sample(host, gpu, row))
        return host

    host = orm(agent_reports)
    card = page.locator(f"#host-{host.pk}")
    expect(card).to_contain_text("late-host")
    expect(card.locator("[data-bar^='gpu-']")).to_have_attribute("data-used-bytes", str(20 * GIB))


def test_history_page_charts_the_chosen_subject(
    live_console: LiveConsole, viewer_user: User, sampled_host: Host, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    page.goto(f"{live_console.url}/history/")
    page.select_option("#history-subject", f"host:{sampled_host.pk}")
    page.wait_for_url(f"**/history/?subject=host%3A{sampled_host.pk}&range=1h")
    page.wait_for_function(
        "() => Number(document.getElementById('history-chart').dataset.points) > 0"
    )
    expect(page.locator('[data-field="resolution"]')).to_have_text(re.compile(r"^(raw|1m|1h)$"))
    expect(page.get_by_role("link", name="Memory samples")).to_have_attribute(
        "href", re.compile(r"^/api/history/memory/\?subject=host&.*&format=csv$")
    )


def test_instance_page_follows_a_sleep_in_its_log_events_jobs_and_timings(
    live_console: LiveConsole, operator_user: User, alpha: Instance, page: Page
) -> None:
    live_console.sign_in(page, operator_user)
    page.goto(f"{live_console.url}/instances/{alpha.pk}/")
    wait_live(page)
    page.locator(f"#instance-{alpha.pk}").get_by_role("button", name="Sleep L1").click()
    expect(page.locator("#log-tail")).to_contain_text("to fall asleep")
    expect(page.locator("#events tbody tr").first).to_contain_text("sleep")
    job_row = page.locator("#jobs tbody tr").first
    expect(job_row.locator('[data-field="kind"]')).to_have_text("sleep L1")
    expect(job_row.locator('[data-field="state"]')).to_have_text("succeeded")
    expect(page.locator("#timings-chart")).to_have_attribute("data-points", "1")
