"""The README's screenshot: the demo as ``make run`` leaves it, seen by a new admin.

A run rewrites ``docs/screenshot-dashboard.png`` only when asked
(``CONSOLE_UPDATE_SCREENSHOT=1``), so running the tests leaves the tree clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.models import Host, Instance, InstanceState
from console.roles import Role
from console.services.demo import start_demo
from tests.console.conftest import create_user
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-dashboard.png"
GIB = 1 << 30


@pytest.fixture
def demo(console_host: Host) -> list[Instance]:
    """Demo mode's steps on the test host's 24 GiB GPU: demo-a launched and put to sleep
    at level 1, demo-b launched."""
    start_demo(console_host.name)
    return list(Instance.objects.order_by("name"))


@pytest.fixture
def new_admin(transactional_db: None) -> User:
    return create_user(Role.ADMIN, username="admin")


def test_the_screenshot_is_the_demo_as_a_new_admin_sees_it(
    live_console: LiveConsole, new_admin: User, demo: list[Instance], tmp_path: Path, page: Page
) -> None:
    first, second = demo
    assert (first.name, first.state, first.sleep_level) == ("demo-a", InstanceState.SLEEPING, 1)
    assert (second.name, second.state) == ("demo-b", InstanceState.AWAKE)
    page.set_viewport_size({"width": 1280, "height": 640})
    live_console.sign_in(page, new_admin)
    expect(page.locator('[data-field="live"]')).to_have_attribute("data-state", "open")
    expect(page.locator("#instances tbody tr")).to_have_count(2)
    bar = page.locator("[data-bar^='gpu-']")
    page.wait_for_function(
        f"() => Number(document.querySelector(\"[data-bar^='gpu-']\").dataset.usedBytes)"
        f" >= {14 * GIB}"
    )
    expect(bar.locator("[data-kind='weights']")).to_have_count(1)
    update = os.environ.get("CONSOLE_UPDATE_SCREENSHOT") == "1"
    shot = SCREENSHOT if update else tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
