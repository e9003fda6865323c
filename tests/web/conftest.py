"""Fixtures for the pages: the console served by uvicorn, Debian's chromium, engines.

The browser tests run the whole console for real: uvicorn serving ``console.asgi`` on a
free port, the control worker and the agent of ``tests/jobs`` (with its simulated GPU),
and emulated engines launched by the console itself. Playwright drives the distribution's
chromium (``/usr/bin/chromium``); its own browser downloads are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

from console.models import Instance, InstanceState, JobKind, JobState
from console.roles import Role
from tests.console.conftest import PASSWORD, create_user
from tests.jobs.conftest import console_host, make_instance, run_job  # noqa: F401  (fixtures)
from tests.support.console import console_process
from tests.support.emulator import free_port

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
SECRET = "sk-console-test-secret-0123456789"
# Generous: two CPU cores shared by the worker, the agent, uvicorn, engines and chromium.
TIMEOUT_MS = 30_000


class LiveConsole:
    """uvicorn serving the console (HTTP and websockets) against the test database."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.running = ExitStack()

    def start(self) -> None:
        argv = ["-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.port)]  # fmt: skip
        server = console_process(argv, self.data_dir, "web", "Uvicorn running on")
        self.running.enter_context(server)

    def stop(self) -> None:
        self.running.close()

    def sign_in(self, page: Page, user: User) -> None:
        page.goto(f"{self.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}/")


@pytest.fixture
def live_console(transactional_db: None, tmp_path: Path) -> Iterator[LiveConsole]:
    console = LiveConsole(tmp_path / "web")
    console.start()
    yield console
    console.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of Debian's chromium, headless.

    Request it after the fixtures that write rows or launch engines: Playwright's sync API
    keeps an event loop running in this thread, where Django refuses the ORM (and
    ``publish`` refuses async_to_sync). A test that needs the ORM meanwhile uses ``orm``.
    """
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        expect.set_options(timeout=TIMEOUT_MS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield context.new_page()
        browser.close()


def orm(work: Callable[[], T]) -> T:
    """Run ``work`` (database calls) in a thread without the browser's event loop.

    The thread's connection is closed after it: one left open would keep PostgreSQL from
    dropping the test database.
    """

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def operator_user(transactional_db: None) -> User:
    """An operator with ``PASSWORD`` (the default hasher: uvicorn checks it)."""
    return create_user(Role.OPERATOR, username="olga")


@pytest.fixture
def viewer_user(transactional_db: None) -> User:
    return create_user(Role.VIEWER, username="vera")


LaunchedMaker = Callable[..., Instance]


@pytest.fixture
def launched(make_instance: Callable[..., Instance]) -> LaunchedMaker:  # noqa: F811
    """``launched(name, ...)``: an instance launched by the console, awake."""

    def launch(name: str, **fields: object) -> Instance:
        instance = make_instance(name, **fields)
        job = run_job(instance, JobKind.LAUNCH)
        assert job.state == JobState.SUCCEEDED, job.error
        instance.refresh_from_db()
        assert instance.state == InstanceState.AWAKE
        return instance

    return launch


@pytest.fixture
def alpha(launched: LaunchedMaker) -> Instance:
    """Awake: 4 GiB of weights, 4 GiB of KV cache, and an engine API key (a secret)."""
    return launched("alpha", weights_gib=4, kv_gib=4, api_key=SECRET)


@pytest.fixture
def beta(launched: LaunchedMaker) -> Instance:
    """Awake beside alpha on the same GPU: 3 GiB of weights, 3 GiB of KV cache."""
    return launched("beta", weights_gib=3, kv_gib=3)
