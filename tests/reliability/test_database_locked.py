"""SQLite held under an exclusive lock by another connection while a job and the agent write.

Every writer waits (the console sets a busy timeout) instead of failing: the job finishes
once, the agent keeps its heartbeat, and the rows still match the engine.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from console.jobs.service import JobRequest, request_job
from console.models import Host, Instance, InstanceState, JobKind, JobState
from tests.jobs.conftest import HOST, InstanceFactory, run_job, wait_finished
from tests.reliability.conftest import (
    assert_no_job_running,
    assert_rows_match_engines,
    posts_logged,
    wait_state,
)

pytestmark = pytest.mark.slow

LOCK_SECONDS = 4.0


@contextmanager
def exclusive_lock(seconds: float) -> Iterator[threading.Event]:
    """Hold ``BEGIN EXCLUSIVE`` on the test database from another connection for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            taken.set()
            time.sleep(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        taken.wait(10)
        yield taken
    finally:
        holder.join()


def test_a_database_locked_for_seconds_delays_writers_but_loses_and_repeats_nothing(
    make_instance: InstanceFactory,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("an exclusive lock on the database file is SQLite's busy state")
    instance = make_instance("locked")
    Instance.objects.filter(pk=instance.pk).update(
        launch_args=[*instance.launch_args, "--pin-alloc-s-per-gib", "1"]
    )
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    job = request_job(JobRequest(instance.pk, JobKind.SLEEP, {"level": 1}))
    wait_state(instance, InstanceState.FALLING_ASLEEP)
    with exclusive_lock(LOCK_SECONDS) as taken:
        assert taken.is_set()
    released = timezone.now()
    job = wait_finished(job, timeout=60)
    assert job.state == JobState.SUCCEEDED, job.error
    # The engine answered within two seconds; the job's next write had to wait for the lock.
    assert job.finished_at is not None
    assert job.finished_at >= released
    time.sleep(1)  # a few agent ticks after the lock
    host = Host.objects.get(name=HOST)
    assert host.last_heartbeat is not None
    assert (timezone.now() - host.last_heartbeat).total_seconds() < 2
    assert posts_logged(instance, "/sleep") == 1
    assert_no_job_running()
    assert_rows_match_engines([instance])
    assert instance.state == InstanceState.SLEEPING
