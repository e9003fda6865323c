"""In a real browser: an admin registers an engine already running by its URL,
from the register page, and sees it awake on the dashboard without a shell or the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Host
from console.roles import Role
from engines.simgpu import SIM_GPU_DIR_ENV
from tests.console.conftest import create_user
from tests.support.emulator import EmulatorProcess, run_emulator
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return create_user(Role.ADMIN, username="ada")


@pytest.fixture
def running_engine(console_host: Host, tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator started by hand (not by the console), serving ``test/by-hand``."""
    sim = {SIM_GPU_DIR_ENV: str(tmp_path / "agent" / "simgpu")}
    with run_emulator(
        tmp_path, "--enable-sleep-mode", "--weights-gib", "1", "--kv-cache-gib", "1",
        "--startup-seconds", "0", model="test/by-hand", env=sim,
    ) as engine:  # fmt: skip
        yield engine


def test_an_admin_registers_a_running_engine_and_sees_it_awake(
    live_console: LiveConsole,
    admin_user: User,
    console_host: Host,
    running_engine: EmulatorProcess,
    page: Page,
) -> None:
    live_console.sign_in(page, admin_user)
    page.click("#register-instance")
    page.fill("#id_name", "by-hand")
    page.fill("#id_served_model_name", "test/by-hand")
    page.fill("#id_base_url", running_engine.url)
    page.select_option("#id_host", label=console_host.name)
    page.fill("#id_log_path", str(running_engine.log_path))
    page.click("#instance-form button[type=submit]")
    page.wait_for_url(f"{live_console.url}/instances/*/")
    expect(page.locator("#evidence")).to_contain_text("Log followed")
    page.goto(f"{live_console.url}/")
    row = page.locator("tr[data-instance]", has_text="by-hand")
    expect(row).to_have_attribute("data-state", "awake")
    expect(row.locator("[data-field='state']")).to_contain_text("awake")


def test_a_registration_with_a_bad_url_shows_the_error_beside_the_field(
    live_console: LiveConsole, admin_user: User, page: Page
) -> None:
    live_console.sign_in(page, admin_user)
    page.goto(f"{live_console.url}/instances/new/")
    page.fill("#id_name", "bad")
    page.fill("#id_served_model_name", "org/m")
    page.fill("#id_base_url", "gpu-1:8000")
    page.click("#instance-form button[type=submit]")
    expect(page.locator("#field-base_url .field-error")).to_be_visible()
    expect(page.locator("#id_name")).to_have_value("bad")
