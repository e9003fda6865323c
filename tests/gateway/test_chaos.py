"""Chaos: 500 requests from 32 clients while instances are put to sleep and woken at random.

Zero errors, zero engine crashes, every response complete: with two 0.11.0 engines that
fit side by side, and with two that cannot share the GPU (every request for the sleeping
one is served after a switch). ``CONSOLE_TEST_CHAOS_SECONDS`` shortens the chaos (60 s,
as the issue asks, by default).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import psutil
import pytest

from console.gateway.figures import COUNTERS
from console.jobs.service import JobConflictError, JobRefusedError, JobRequest, request_job
from console.models import Instance, Job, JobKind, JobState
from tests.gateway.conftest import bearer, completion_body, settled_figures
from tests.jobs.conftest import InstanceFactory, run_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHAOS_SECONDS = float(os.environ.get("CONSOLE_TEST_CHAOS_SECONDS", "60"))
REQUESTS = 500
CLIENTS = 32


@dataclass(frozen=True)
class Answer:
    """What one client got: the status and whether the answer was complete."""

    model: str
    stream: bool
    status: int
    complete: bool
    detail: str


def ask(client: httpx.Client, gateway: str, key: str, model: str, stream: bool) -> Answer:
    body = completion_body(model, stream=stream, max_tokens=8)
    url = f"{gateway}/v1/completions"
    if not stream:
        response = client.post(url, json=body, headers=bearer(key))
        ok = response.status_code == 200 and bool(response.json()["choices"][0]["text"])
        return Answer(model, stream, response.status_code, ok, response.text[:300])
    with client.stream("POST", url, json=body, headers=bearer(key)) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    tokens = [json.loads(line[6:]) for line in lines[:-1]]
    ok = (lines[-1:] == ["data: [DONE]"] and bool(tokens)
          and all("choices" in t for t in tokens))  # fmt: skip
    return Answer(model, stream, response.status_code, ok, "\n".join(lines)[-300:])


def clients(gateway: str, key: str, models: list[str], seconds: float) -> list[Answer]:
    """500 requests spread over ``seconds`` (a third streamed), from 32 concurrent clients."""
    rng = random.Random(6)
    plan = [(i * seconds / REQUESTS, rng.choice(models), i % 3 == 0) for i in range(REQUESTS)]
    started = time.monotonic()
    local = threading.local()

    def one(at: float, model: str, stream: bool) -> Answer:
        time.sleep(max(0.0, started + at - time.monotonic()))
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=200)
        return ask(local.client, gateway, key, model, stream)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda p: one(*p), plan))


def chaos(instances: list[Instance], seconds: float, stop: threading.Event) -> int:
    """Ask for random sleeps (level 1 or 2) and wakes until time is up; returns how many ran."""
    rng = random.Random(11)
    deadline = time.monotonic() + seconds
    asked = 0
    while time.monotonic() < deadline and not stop.is_set():
        instance = rng.choice(instances)
        kind, params = rng.choice([(JobKind.SLEEP, {"level": 1}), (JobKind.SLEEP, {"level": 2}),
                                   (JobKind.WAKE, {})])  # fmt: skip
        try:
            request_job(JobRequest(instance.pk, kind, params))
            asked += 1
        except (JobConflictError, JobRefusedError):
            pass
        time.sleep(rng.uniform(0.2, 1.0))
    return asked


def run_chaos(gateway: str, key: str, instances: list[Instance]) -> dict[str, float]:
    """Run the clients against the chaos; returns the gateway's figures summed over models."""
    # Earlier tests' requests reach Redis up to a flush (about 1 s) after they ended, past
    # the per-test cleanup: count from what the figures say now.
    time.sleep(1.5)
    models = [i.served_model_name for i in instances]
    before = {name: sum(settled_figures(m, name, 0)[name] for m in models) for name in COUNTERS}
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        chaos_run = pool.submit(chaos, instances, CHAOS_SECONDS, stop)
        try:
            answers = clients(gateway, key, [i.served_model_name for i in instances],
                              CHAOS_SECONDS)  # fmt: skip
        finally:
            stop.set()
        assert chaos_run.result() > 0
    failed = [a for a in answers if a.status != 200 or not a.complete]
    assert not failed, f"{len(failed)} of {len(answers)} failed, first: {failed[0]}"
    for instance in instances:
        instance.refresh_from_db()
        assert instance.pid is not None
        assert psutil.pid_exists(instance.pid), f"{instance.name}'s engine crashed"
    slept = Job.objects.filter(kind=JobKind.SLEEP, state=JobState.SUCCEEDED).count()
    assert slept >= 3, "the chaos put nothing to sleep: the test proves nothing"
    figures = [settled_figures(m, "requests", 0) for m in models]
    deadline = time.monotonic() + 5
    while (
        sum(f["requests"] for f in figures) < before["requests"] + REQUESTS
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
        figures = [settled_figures(m, "requests", 0) for m in models]
    totals = {name: sum(f[name] for f in figures) - before[name] for name in COUNTERS}
    assert totals["requests"] == REQUESTS
    assert totals["errors"] == totals["rejected"] == 0
    return totals


def launched(make_instance: InstanceFactory, name: str, **sizes: float) -> Instance:
    instance = make_instance(name, **sizes)
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    return instance


def test_chaos_with_two_engines_side_by_side(
    gateway: str, inference_key: str, make_instance: InstanceFactory
) -> None:
    instances = [launched(make_instance, name) for name in ("alpha", "beta")]
    totals = run_chaos(gateway, inference_key, instances)
    assert totals["held"] > 0, "no request met a sleeping engine"


def test_chaos_with_two_engines_that_cannot_share_the_gpu(
    gateway: str, inference_key: str, make_instance: InstanceFactory
) -> None:
    # 14 GiB each on a 24 GiB GPU: only one can be awake at a time.
    alpha = launched(make_instance, "alpha", weights_gib=8, kv_gib=6)
    assert run_job(alpha, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    beta = launched(make_instance, "beta", weights_gib=8, kv_gib=6)
    totals = run_chaos(gateway, inference_key, [alpha, beta])
    assert totals["wakes_on_request"] >= 2, "requests were not served after switches"
