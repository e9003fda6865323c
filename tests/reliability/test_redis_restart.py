"""Redis (broker and channel layer) restarted in the middle of a switch.

A private redis-server on a free port, for this test only (the machine's Redis is never
touched): the control worker is started against it, the switch is sent through it, and
it is stopped and started again while the engine is waking. The job in flight finishes
once, and the next job goes through the restarted Redis.

The worker itself does not survive the loss of its broker while it holds an unacknowledged
message (kombu 5 fails restoring it: ``'NoneType' object has no attribute 'hostname'``,
an "Unrecoverable error", and the worker exits); its supervisor starts it again, as here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from console.celery import app
from console.models import Instance, InstanceState, Job, JobKind, JobState
from console.tasks import run_job
from tests.jobs.conftest import wait_finished
from tests.reliability.conftest import (
    assert_no_job_running,
    assert_rows_match_engines,
    wait_state,
    wait_until,
)
from tests.support.console import ROOT, child_env
from tests.support.emulator import EmulatorProcess, free_port, run_emulator

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

State = InstanceState
# Two GiB of weights over a 1 GB/s link: the wake takes about two seconds.
ENGINE = ("--enable-sleep-mode", "--weights-gib", "2", "--kv-cache-gib", "1",
          "--startup-seconds", "0", "--pin-alloc-s-per-gib", "0.05", "--h2d-gbps", "1")  # fmt: skip


@contextmanager
def redis_server(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``redis-server`` on 127.0.0.1:``port``, in memory only (a restart loses its data)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    try:
        wait_until(lambda: _pings(client), timeout=10, what="redis-server up")
        yield server
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextmanager
def worker_on(redis_url: str, data_dir: Path) -> Iterator[Path]:
    """The control worker, as ``manage.py up`` runs it, with ``redis_url`` as its Redis."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = child_env(data_dir)
    env["REDIS_URL"] = redis_url
    log = data_dir / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--queues", "control",
             "--pool", "threads", "--concurrency", "4", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(lambda: " ready." in log.read_text(errors="replace"), timeout=60)
            yield log
        finally:
            worker.terminate()
            worker.wait(timeout=20)


def send(job: Job, redis_url: str) -> None:
    """Enqueue as ``request_job`` does, through the private Redis."""
    with app.connection_for_write(redis_url) as connection, connection.Producer() as producer:
        run_job.apply_async((job.pk,), queue="control", producer=producer)


def registered(name: str, engine: EmulatorProcess, state: InstanceState) -> Instance:
    return Instance.objects.create(
        name=name, served_model_name="facebook/opt-125m", base_url=engine.url, state=state,
        vllm_version="0.11.0", sleep_level=1 if state == State.SLEEPING else None,
    )  # fmt: skip


def posts(engine: EmulatorProcess, path: str) -> int:
    return engine.log_text().count(f'"POST {path}')


def test_redis_restarted_during_a_switch_loses_and_repeats_nothing(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with ExitStack() as stack:
        incoming = stack.enter_context(run_emulator(tmp_path, *ENGINE))
        outgoing = stack.enter_context(run_emulator(tmp_path, *ENGINE))
        httpx.post(f"{incoming.url}/sleep", params={"level": 1}, timeout=30).raise_for_status()
        target = registered("incoming", incoming, State.SLEEPING)
        victim = registered("outgoing", outgoing, State.AWAKE)
        first = stack.enter_context(redis_server(port, tmp_path / "redis"))
        switch = Job.objects.create(
            instance=target, kind=JobKind.SWITCH, params={"sleep": [victim.pk]}
        )
        with worker_on(url, tmp_path / "control"):
            send(switch, url)
            wait_state(target, State.WAKING)
            first.terminate()
            first.wait(timeout=10)
            stack.enter_context(redis_server(port, tmp_path / "redis"))
            switch = wait_finished(switch, timeout=60)
        assert switch.state == JobState.SUCCEEDED, switch.error

        wake = Job.objects.create(instance=victim, kind=JobKind.WAKE, params={})
        with worker_on(url, tmp_path / "control-again"):
            send(wake, url)
            assert wait_finished(wake, timeout=60).state == JobState.SUCCEEDED
            switch.refresh_from_db()
            assert switch.state == JobState.SUCCEEDED, "not run a second time"
        assert_no_job_running()
        assert_rows_match_engines([target, victim])
        assert (target.state, victim.state) == (State.AWAKE, State.AWAKE)
        assert (posts(incoming, "/wake_up"), posts(outgoing, "/sleep")) == (1, 1)
        assert posts(outgoing, "/wake_up") == 1
