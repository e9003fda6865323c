"""``manage.py up``: the whole console from one command, and nothing left after Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support.emulator import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningConsole:
    """A ``manage.py up`` process and what it printed."""

    process: subprocess.Popen[str]
    url: str
    output: list[str]

    def credentials(self) -> tuple[str, str]:
        for line in self.output:
            match = re.search(r"username=(\S+) password=(\S+)", line)
            if match:
                return match.group(1), match.group(2)
        raise AssertionError("up printed no admin credentials:\n" + "".join(self.output))

    def descendants(self) -> list[psutil.Process]:
        """Children started in their own sessions are still children of ``up``."""
        return psutil.Process(self.process.pid).children(recursive=True)


def read_until(
    process: subprocess.Popen[str], text: str, output: list[str], timeout: float
) -> None:
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            output.append(line)
            if text in line:
                return
        elif process.poll() is not None:
            raise AssertionError("up exited:\n" + "".join(output))
        else:
            time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {timeout}s:\n" + "".join(output))


@contextmanager
def run_up(tmp_path: Path, *flags: str) -> Iterator[RunningConsole]:
    """``manage.py up FLAGS`` on a free port with a fresh data dir and embedded Redis."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name, None)
    env["CONSOLE_DATA_DIR"] = str(tmp_path / "data")
    env["DJANGO_SETTINGS_MODULE"] = "console.settings"  # not the tests' settings
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        read_until(process, "vLLM Console is up", output, timeout=90)
        yield RunningConsole(process, f"http://127.0.0.1:{port}", output)
    finally:
        stop_up(process)


def stop_up(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user would; if ``up`` does not finish, kill its whole tree.

    Its children run in sessions of their own: killing ``up``'s group alone would leave
    them (and the embedded Redis) running.
    """
    if process.poll() is not None:
        return
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@pytest.fixture
def console_up(tmp_path: Path) -> Iterator[RunningConsole]:
    with run_up(tmp_path, "--no-demo") as console:
        yield console


def wait_for_page(url: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_up_serves_the_console_and_an_admin_can_log_in(console_up: RunningConsole) -> None:
    login_page = wait_for_page(f"{console_up.url}/login/")
    assert login_page.status_code == 200
    username, password = console_up.credentials()
    with httpx.Client(base_url=console_up.url, timeout=10) as client:
        client.get("/login/")
        response = client.post(
            "/login/",
            data={"username": username, "password": password,
                  "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            headers={"Referer": f"{console_up.url}/login/"},
        )  # fmt: skip
        assert response.status_code == 302
        assert client.get("/api/me/").json()["role"] == "admin"
        assert client.get("/api/schema/").status_code == 200


def test_ctrl_c_leaves_no_process_behind(console_up: RunningConsole) -> None:
    wait_for_page(f"{console_up.url}/login/")
    children = console_up.descendants()
    names = " ".join(" ".join(child.cmdline()) for child in children)
    for part in ("redis-server", "uvicorn", "--queues control", "--queues background", "beat",
                 "agent"):  # fmt: skip
        assert part in names
    console_up.process.send_signal(signal.SIGINT)
    assert console_up.process.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


def wait_for_text(log: Path, text: str, times: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not log.exists() or log.read_text(errors="replace").count(text) < times:
        assert time.monotonic() < deadline, f"{text!r} not {times}x in {log}"
        time.sleep(0.2)


def test_a_killed_worker_background_worker_and_agent_are_started_again(
    console_up: RunningConsole, tmp_path: Path
) -> None:
    wait_for_page(f"{console_up.url}/login/")
    logs = tmp_path / "data" / "logs"  # run_up's data dir
    parts = (("worker", "--queues control"), ("background", "--queues background"),
             ("agent", "manage.py agent"))  # fmt: skip
    for name, part in parts:
        log = logs / f"{name}.log"
        wait_for_text(log, " ready.", times=1)  # a running one is killed, not a starting one
        [old] = [c for c in console_up.descendants() if part in " ".join(c.cmdline())]
        os.killpg(old.pid, signal.SIGKILL)
        read_until(console_up.process, f"restarted {name} (pid ", console_up.output, timeout=30)
        assert f"{name} exited with code -9; restarting it in 1 s" in "".join(console_up.output)
        [new] = [c for c in console_up.descendants() if part in " ".join(c.cmdline())]
        assert new.pid != old.pid
        # A working one: it logs " ready." a second time, as it did when up started it.
        wait_for_text(log, " ready.", times=2)
    assert console_up.process.poll() is None, "the console stayed up"


def logged_in(console: RunningConsole) -> httpx.Client:
    username, password = console.credentials()
    client = httpx.Client(base_url=console.url, timeout=10)
    client.get("/login/")
    client.post(
        "/login/",
        data={"username": username, "password": password,
              "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"{console.url}/login/"},
    )  # fmt: skip
    return client


def wait_for_evidence(client: httpx.Client, kind: str, timeout: float = 60) -> dict[str, Any]:
    """The newest job of ``kind`` once its evidence is complete (or as it is at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [job for job in client.get("/api/jobs/").json()["results"] if job["kind"] == kind]
        detail = (jobs[0].get("outcome_detail") or {}) if jobs else {}
        if detail.get("evidence") == "complete" or time.monotonic() > deadline:
            assert jobs, f"no {kind} job"
            return dict(jobs[0])
        time.sleep(0.5)


def test_demo_mode_runs_two_engines_that_cannot_both_be_awake(tmp_path: Path) -> None:
    with run_up(tmp_path, "--demo") as console:
        wait_for_page(f"{console.url}/login/")
        client = logged_in(console)
        deadline = time.monotonic() + 90
        states: dict[str, str] = {}
        while time.monotonic() < deadline and states != {"demo-a": "sleeping", "demo-b": "awake"}:
            rows = client.get("/api/instances/").json()["results"]
            states = {row["name"]: row["state"] for row in rows}
            time.sleep(0.5)
        assert states == {"demo-a": "sleeping", "demo-b": "awake"}
        assert all(row["is_demo"] for row in client.get("/api/instances/").json()["results"])
        # The demo's sleep gets its evidence from the background worker, not the jobs' one.
        sleep = wait_for_evidence(client, "sleep")
        assert sleep["outcome_detail"]["evidence"] == "complete"
        logs = tmp_path / "data" / "logs"
        ran = "Task console.tasks.attach_job_evidence["  # its received/succeeded lines
        assert ran in (logs / "background.log").read_text()
        assert ran not in (logs / "worker.log").read_text()
        engines = [c for c in console.descendants() if "emulator" in " ".join(c.cmdline())]
        console.process.send_signal(signal.SIGINT)
        assert console.process.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(engines, timeout=10)
        assert alive == []
