"""``manage.py up --no-demo`` as a process, and clients for its REST API and its ``/v1/``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from .probes import GaveUpError, wait_for

ACTIVE = ("queued", "running")


def console_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """A console of its own: embedded Redis, SQLite in ``data_dir``, no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name, None)
    env.update(
        CONSOLE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="console.settings",
        PYTHONUNBUFFERED="1",
        CONSOLE_RECONCILE_SECONDS="2",
        CONSOLE_GATEWAY_HOLD_SECONDS="300",
        **extra,
    )
    return env


def last_word(output: str) -> str:
    return [line for line in output.splitlines() if line.strip()][-1].split()[-1]


@dataclass
class RunningConsole:
    """The ``up`` process, its URL, and authenticated clients."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    api: httpx.Client
    v1_headers: dict[str, str]

    def stop(self) -> int | None:
        """Ctrl-C, as a user would (it stops the engines too); kill the tree if it hangs."""
        if self.process.poll() is not None:
            return self.process.returncode
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.api.close()
        return self.process.returncode

    # --- REST -------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.api.get(path, params=params or None).raise_for_status().json()

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        found = self.get(path, **params)
        return list(found.get("results", found) if isinstance(found, dict) else found)

    def instance(self, pk: int) -> dict[str, Any]:
        row: dict[str, Any] = self.get(f"/api/instances/{pk}/")
        return row

    def post_job(self, pk: int, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(f"/api/instances/{pk}/{verb}/", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"{verb} {pk}: HTTP {response.status_code} {response.text[:500]}")
        job: dict[str, Any] = response.json()
        return job

    def wait_job(self, job_id: int, timeout: float) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job: dict[str, Any] = self.get(f"/api/jobs/{job_id}/")
            return None if job["state"] in ACTIVE else job

        found: dict[str, Any] = wait_for(done, timeout, f"job {job_id}", interval=0.01)
        return found


def start_console(
    root: Path, python: str, data_dir: Path, port: int, extra_env: dict[str, str]
) -> RunningConsole:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = console_env(data_dir, extra_env)
    out = (data_dir / "up.log").open("wb")
    process = subprocess.Popen(
        [python, "manage.py", "up", "--no-demo", "--port", str(port)],
        cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def is_up() -> bool:
        if process.poll() is not None:
            text = (data_dir / "up.log").read_text(errors="replace")
            raise GaveUpError(f"manage.py up exited {process.returncode}:\n{text[-3000:]}")
        return "is up at" in (data_dir / "up.log").read_text(errors="replace")

    wait_for(is_up, 180, "manage.py up")

    def manage(*args: str) -> str:
        done = subprocess.run(
            [python, "manage.py", *args], cwd=root, env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout

    token = last_word(manage("issue_token", "admin"))
    key = last_word(manage("issue_inference_key", "real-vllm-bench"))
    url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)
    return RunningConsole(process, url, data_dir, api, {"Authorization": f"Bearer {key}"})


def local_gpu(console: RunningConsole, timeout: float = 120) -> tuple[int, int]:
    """(host id, GPU 0's id) once the local agent has registered its GPU."""

    def registered() -> tuple[int, int] | None:
        for host in console.rows("/api/hosts/"):
            for gpu in host["gpus"]:
                if gpu["index"] == 0:
                    return int(host["id"]), int(gpu["id"])
        return None

    found: tuple[int, int] = wait_for(registered, timeout, "the agent's GPU")
    return found


def wait_state(
    console: RunningConsole, pk: int, states: set[str], timeout: float, level: int | None = None
) -> tuple[dict[str, Any], float]:
    """The instance row once in one of ``states`` (and at ``level``), and when (monotonic)."""

    def reached() -> dict[str, Any] | None:
        row = console.instance(pk)
        if row["state"] in states and (level is None or row["sleep_level"] == level):
            return row
        return None

    row: dict[str, Any] = wait_for(reached, timeout, f"instance {pk} in {states}", interval=0.1)
    return row, time.monotonic()
