"""Hold and wake, and drain before sleep, with a real worker, agent and 0.11.0 emulators."""

from __future__ import annotations

import threading

import httpx
import psutil
import pytest
from redis import Redis

from console.models import AuditEntry, Instance, InstanceState, Job, JobKind, JobState, Outcome
from console.models.gateway import InferenceKey
from emulator.textgen import natural_length
from tests.gateway.conftest import bearer, completion_body, post_completion, settled_figures
from tests.jobs.conftest import InstanceFactory, run_job

pytestmark = pytest.mark.slow


def long_prompt() -> str:
    """A prompt whose answer is long (the emulator answers 8 to 31 tokens)."""
    return next(p for n in range(1000) if natural_length(p := f"Tell me more, {n}") >= 28)


def launched(make_instance: InstanceFactory, name: str, *extra_args: str) -> Instance:
    instance = make_instance(name)
    instance.launch_args = [*instance.launch_args, *extra_args]
    instance.save(update_fields=["launch_args"])
    job = run_job(instance, JobKind.LAUNCH)
    assert job.state == JobState.SUCCEEDED, job.error
    instance.refresh_from_db()
    return instance


def test_a_request_for_a_sleeping_engine_wakes_it_and_is_served(
    gateway: str, inference_key: str, make_instance: InstanceFactory, clean_gateway_keys: Redis
) -> None:
    # Its own served name: the figures below must not take in another test's late flush.
    instance = launched(make_instance, "woken")
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    response = post_completion(gateway, inference_key, instance.served_model_name, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"]
    instance.refresh_from_db()
    assert instance.state == InstanceState.AWAKE
    assert instance.pid is not None
    assert psutil.pid_exists(instance.pid), "the 0.11.0 engine did not crash"
    figures = settled_figures(instance.served_model_name, "requests", 1)
    assert (figures["wakes_on_request"], figures["held"], figures["errors"]) == (1, 1, 0)
    assert figures["held_seconds"] > 0


def test_a_sleep_waits_for_the_stream_in_flight_to_finish(
    gateway: str, inference_key: str, make_instance: InstanceFactory
) -> None:
    # 28 tokens or more at 10 per second: a stream of about 3 s.
    instance = launched(make_instance, "beta", "--tokens-per-second", "10")
    lines: list[str] = []
    started = threading.Event()

    def stream() -> None:
        body = {**completion_body(instance.served_model_name, stream=True, max_tokens=100),
                "prompt": long_prompt()}  # fmt: skip
        with httpx.stream("POST", f"{gateway}/v1/completions", json=body,
                          headers=bearer(inference_key), timeout=60) as response:  # fmt: skip
            for line in response.iter_lines():
                started.set()
                lines.append(line)

    client = threading.Thread(target=stream)
    client.start()
    assert started.wait(10)
    sleep = run_job(instance, JobKind.SLEEP, level=1)
    client.join(timeout=30)
    assert sleep.state == JobState.SUCCEEDED, sleep.error
    assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]"
    assert not any('"error"' in line for line in lines)
    instance.refresh_from_db()
    assert instance.state == InstanceState.SLEEPING
    assert instance.pid is not None
    assert psutil.pid_exists(instance.pid), "slept with a request in flight: 0.11.0 crashes"


def test_a_switch_started_by_a_held_request_is_audited_as_its_keys(
    gateway: str, make_instance: InstanceFactory
) -> None:
    _, key = InferenceKey.issue("audited-app", [])
    instance = launched(make_instance, "audited")
    assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    response = post_completion(gateway, key, instance.served_model_name, timeout=60)
    assert response.status_code == 200, response.text
    job = Job.objects.get(instance=instance, kind=JobKind.SWITCH)
    entry = AuditEntry.objects.get(action="job.switch", target_id=str(instance.pk))
    assert entry.username == "inference key audited-app"
    assert job.author == "inference key audited-app"
    assert job.params["via"] == "gateway"
    assert entry.outcome == Outcome.OK
    assert entry.detail["job"] == job.pk
    assert entry.detail["via"] == "gateway"
    assert entry.remote_addr is None
    assert entry.detail["client"] == "127.0.0.1"
