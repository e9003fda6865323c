"""Demo mode: two emulated engines on one simulated GPU that cannot hold both awake.

A new user with no GPU sees a live console at once: ``demo-a`` is launched and put to
sleep (level 1), then ``demo-b`` is launched in the room it freed; "Activate" on either
switches them. Both are labelled as demo instances everywhere.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from console import audit
from console.jobs.service import JobConflictError, JobRefusedError, JobRequest, request_job
from console.models import Gpu, Host, Instance, Job, JobKind, JobState, Outcome

log = logging.getLogger(__name__)

SIM_GPU_GIB = 24.0
# 8 GiB of weights + 6 GiB of KV cache each: one fits on the 24 GiB GPU, two do not.
DEMO_ARGS = ["--emulate-version", "0.11.0", "--weights-gib", "8", "--kv-cache-gib", "6",
             "--startup-seconds", "3"]  # fmt: skip
DEMO_MODELS = {"demo-a": "demo/llama-3.1-8b-instruct", "demo-b": "demo/qwen2.5-7b-instruct"}
# Who the audit log names for what demo mode does on its own.
DEMO_ACTOR = "demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register_demo_instances(host: Host) -> list[Instance]:
    gpu = Gpu.objects.get(host=host, index=0)
    instances = []
    for name, model in DEMO_MODELS.items():
        instance, created = Instance.objects.get_or_create(
            name=name,
            defaults={
                "served_model_name": model,
                "base_url": f"http://127.0.0.1:{free_port()}",
                "host": host,
                "launch_executable": "python -m emulator",
                "launch_model": model,
                "launch_args": DEMO_ARGS,
                "expected_weights_gib": 8.0,
                "expected_kv_cache_gib": 6.0,
                "is_demo": True,
            },
        )
        instance.gpus.set([gpu])
        if created:
            audit.record(None, "instance.create", Outcome.OK, target=instance, actor=DEMO_ACTOR)
        instances.append(instance)
    return instances


def request_demo_job(instance: Instance, kind: JobKind, params: dict[str, Any]) -> Job:
    """Ask for a job as demo mode, audited as an operator's request would be."""
    action = f"job.{kind}"
    try:
        job = request_job(JobRequest(instance.pk, kind, params))
    except (JobConflictError, JobRefusedError) as refusal:
        audit.record(None, action, Outcome.REFUSED, target=instance, actor=DEMO_ACTOR,
                     detail={"reason": str(refusal)})  # fmt: skip
        raise
    audit.record(None, action, Outcome.OK, target=instance, actor=DEMO_ACTOR,
                 detail={"job": job.pk})  # fmt: skip
    return job


def wait_for_job(job: Job, timeout: float) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return job
        time.sleep(0.5)
    return job


def wait_for_gpu(host_name: str, timeout: float) -> Host | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host = Host.objects.filter(name=host_name, gpus__index=0).first()
        if host is not None:
            return host
        time.sleep(0.5)
    return None


def start_demo(host_name: str) -> None:
    """Launch A, put it to sleep, launch B; each step waits for the one before."""
    host = wait_for_gpu(host_name, timeout=60)
    if host is None:
        log.error("demo: the local agent did not register a GPU; no demo engines")
        return
    first, second = register_demo_instances(host)
    steps = [(first, JobKind.LAUNCH, {}), (first, JobKind.SLEEP, {"level": 1}),
             (second, JobKind.LAUNCH, {})]  # fmt: skip
    for instance, kind, params in steps:
        instance.refresh_from_db()
        if kind == JobKind.LAUNCH and instance.state != "stopped":
            continue
        if kind == JobKind.SLEEP and instance.state != "awake":
            continue
        try:
            job = wait_for_job(request_demo_job(instance, kind, params), timeout=120)
        except (JobConflictError, JobRefusedError) as refusal:
            log.error("demo: %s %s refused: %s", kind, instance.name, refusal)
            return
        if job.state != JobState.SUCCEEDED:
            log.error("demo: %s %s failed: %s", kind, instance.name, job.error)
            return
