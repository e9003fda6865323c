"""Ten operators, a thousand random sleep/wake/switch requests over twenty real engines.

Requests go through ``request_job`` (what the API and the pages call) from ten threads at
once; a real control worker runs the jobs against twenty emulators. Afterwards nothing is
left moving, each row says what its engine says, the engines got exactly the calls the
jobs recorded, and no instance ever had two jobs running at once.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.db import connection

from console.jobs.service import JobConflictError, JobRefusedError, JobRequest, request_job
from console.models import Instance, InstanceState, Job, JobKind, JobState
from tests.reliability.conftest import engine_truth, wait_until
from tests.support.console import control_worker
from tests.support.emulator import run_emulator

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPERATORS = 10
REQUESTS = 1000
INSTANCES = 20
SMALL = ("--enable-sleep-mode", "--weights-gib", "0.5", "--kv-cache-gib", "0.5",
         "--startup-seconds", "0", "--time-scale", "0.2")  # fmt: skip
TRANSIENT = {InstanceState.FALLING_ASLEEP, InstanceState.WAKING}


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[Instance]]:
    """Twenty awake instances, each a real emulator, and a real control worker."""
    with ExitStack() as stack:
        rows = []
        for number in range(INSTANCES):
            engine = stack.enter_context(run_emulator(tmp_path, *SMALL))
            rows.append(
                Instance.objects.create(
                    name=f"busy-{number}", served_model_name="facebook/opt-125m",
                    base_url=engine.url, state=InstanceState.AWAKE, vllm_version="0.11.0",
                )
            )  # fmt: skip
        stack.enter_context(control_worker(tmp_path / "control"))
        yield rows


def operator(seed: int, ids: list[int], count: int, answers: Counter[str]) -> None:
    """One operator clicking at random: sleep, wake or switch (making room by one neighbour)."""
    rng = random.Random(seed)
    try:
        for _ in range(count):
            target, other = rng.sample(ids, 2)
            kind = rng.choice([JobKind.SLEEP, JobKind.WAKE, JobKind.SWITCH])
            params: dict[str, object] = {"level": 1} if kind == JobKind.SLEEP else {}
            if kind == JobKind.SWITCH:
                params = {"sleep": [other]}
            # One click in four asks to queue behind a running job rather than be refused.
            behind = rng.random() < 0.25
            try:
                request_job(JobRequest(target, kind, params, queue_behind=behind))
                answers["queued behind" if behind else "accepted"] += 1
            except JobConflictError:
                answers["busy"] += 1
            except JobRefusedError:
                answers["refused"] += 1
            time.sleep(rng.uniform(0.0, 0.04))
    finally:
        connection.close()


def posts(instance: Instance, path: str, log_dir: Path) -> int:
    """Calls the engine answered, from its uvicorn access lines (``run_emulator``'s log)."""
    log = log_dir / f"emulator-{instance.base_url.rsplit(':', 1)[1]}.log"
    return log.read_text(errors="replace").count(f'"POST {path}')


def steps_on(instance: Instance, step: str) -> int:
    return sum(
        1
        for detail in Job.objects.values_list("outcome_detail", flat=True)
        for s in (detail or {}).get("steps", [])
        if s["step"] == step and s["instance"] == instance.name
    )


def assert_never_two_jobs_at_once(instance: Instance) -> None:
    spans = sorted(
        Job.objects.filter(instance=instance, started_at__isnull=False).values_list(
            "started_at", "finished_at"
        )
    )
    for (_, finished), (started, _) in itertools.pairwise(spans):
        assert finished is not None, instance.name
        assert started is not None
        assert finished <= started, instance.name


def test_a_thousand_random_requests_leave_every_row_equal_to_its_engine(
    instances: list[Instance], tmp_path: Path
) -> None:
    ids = [i.pk for i in instances]
    answers: Counter[str] = Counter()
    threads = [
        threading.Thread(target=operator, args=(seed, ids, REQUESTS // OPERATORS, answers))
        for seed in range(OPERATORS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(answers.values()) == REQUESTS
    active = Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
    try:
        wait_until(lambda: not active.exists(), timeout=90, what="every job finished")
    except AssertionError as failure:
        left = list(active.values_list("pk", "kind", "state", "instance__name"))
        raise AssertionError(f"{failure}; left: {left[:20]}") from None

    jobs = Job.objects.all()
    assert jobs.count() == answers["accepted"] + answers["queued behind"] > 100
    assert not jobs.filter(error__contains="internal error").exists()
    for instance in Instance.objects.order_by("pk"):
        assert instance.state not in TRANSIENT, (instance.name, instance.state_detail)
        assert instance.state in engine_truth(instance), instance.name
        assert posts(instance, "/sleep", tmp_path) == steps_on(instance, "sleep"), instance.name
        assert posts(instance, "/wake_up", tmp_path) == steps_on(instance, "wake"), instance.name
        assert_never_two_jobs_at_once(instance)
