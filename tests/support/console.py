"""Run the console's own processes (a Celery worker, an agent) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database the current test uses (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        CONSOLE_REDIS_PREFIX=settings.REDIS_PREFIX,
        CONSOLE_DATA_DIR=str(data_dir),
        CONSOLE_SECRET_KEY="test-secret-key-for-subprocesses",
        CONSOLE_JOB_EVIDENCE_WAIT="3",
        CONSOLE_RECONCILE_SECONDS="1",
        DJANGO_SETTINGS_MODULE="console.settings",
    )
    env.update(extra)  # may replace a default above (REDIS_URL for a private Redis)
    return env


@contextmanager
def console_process(
    argv: Sequence[str],
    data_dir: Path,
    log_name: str,
    ready_text: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python <argv>``, wait for ``ready_text`` in its output, stop it on exit.

    ``env`` adds settings (``{"CONSOLE_GATEWAY_HOLD_SECONDS": "2"}``) to the child's.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{log_name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=child_env(data_dir, **(env or {})),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_text(process, log_path, ready_text, timeout)
            yield process
        finally:
            _stop(process)


def _wait_for_text(
    process: subprocess.Popen[bytes], log_path: Path, text: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = log_path.read_text(errors="replace")
        if text in output:
            return
        if process.poll() is not None:
            raise RuntimeError(f"{log_path.name} exited:\n{output[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"{log_path.name} not ready in {timeout}s:\n{output[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def control_worker(
    data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The jobs' and the background tasks' worker (``env``: more settings). ``manage.py up``
    runs one process per queue (test_up checks that); one here spares the suite a start."""
    argv = ["-m", "celery", "-A", "console", "worker", "--queues", "control,background",
            "--pool", "threads", "--concurrency", "4", "--without-gossip", "--without-mingle",
            "--loglevel", "INFO"]  # fmt: skip
    with console_process(argv, data_dir, "worker", " ready.", env=env) as process:
        yield process


@contextmanager
def agent(
    data_dir: Path, host: str, sim_gpu_gib: float = 24.0
) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py agent`` with one simulated GPU, sampling five times a second."""
    argv = ["manage.py", "agent", "--host", host, "--sim-gpus", "1",
            "--sim-gpu-gib", str(sim_gpu_gib), "--interval", "0.2"]  # fmt: skip
    with console_process(argv, data_dir, f"agent-{host}", " ready.") as process:
        yield process
