"""Launch and stop: run on the instance's GPU host (queue ``host.<name>``), by its agent."""

from __future__ import annotations

import functools
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from console.jobs import ledger
from console.jobs.moves import move
from console.jobs.outcome import JobOutcome
from console.jobs.service import STARTS_FROM, JobRefusedError
from console.models import EngineEvent, Instance, InstanceState, Job, JobKind, transition
from console.realtime import notify
from console.realtime.publisher import publish
from engines.launcher import EngineAlreadyRunningError, Launcher, LaunchError, LaunchSpec
from engines.launcher.logfiles import redact_secrets
from engines.probes import GpuProbe

State = InstanceState
LAUNCH_READY_TIMEOUT = 1500.0
# Log lines a failed launch's event keeps (the job's log excerpt keeps more).
LAUNCH_FAILURE_LINES = 20


def run_dir() -> Path:
    return Path(settings.DATA_DIR) / "engines"


@functools.cache
def launcher() -> Launcher:
    """One per process: it keeps the engines it started as children, to reap them."""
    return Launcher(run_dir())


def launch_on(probe: GpuProbe) -> None:
    """Engines this process launches use the GPUs ``probe`` reads: set once, by the agent at
    its start, where it chose the probe (simulated GPUs tell an emulator where to publish;
    NVML needs nothing)."""
    launcher().env = probe.launch_env()


def executable(text: str) -> tuple[str, ...]:
    """The command template's program; a bare ``python`` means this interpreter."""
    words = tuple(shlex.split(text or "vllm"))
    if words and words[0] in {"python", "python3"}:
        return (sys.executable, *words[1:])
    return words


def launch_spec(instance: Instance) -> LaunchSpec:
    address = urlsplit(instance.base_url)
    if address.port is None:
        raise JobRefusedError(f"{instance.name}: base URL {instance.base_url} names no port")
    try:
        return LaunchSpec(
            executable=executable(instance.launch_executable),
            model=instance.launch_model or instance.served_model_name,
            host=address.hostname or "127.0.0.1",
            port=address.port,
            served_model_name=instance.served_model_name or None,
            gpu_ids=tuple(instance.gpus.order_by("index").values_list("index", flat=True)) or (0,),
            gpu_memory_utilization=instance.gpu_memory_utilization,
            extra_args=tuple(instance.launch_args or ()),
            env=dict(instance.launch_env or {}),
            name=instance.name,
        )
    except ValueError as error:
        raise JobRefusedError(f"{instance.name}: {error}") from None


def launch(job: Job, outcome: JobOutcome) -> None:
    instance = job.instance
    spec = launch_spec(instance)
    # Refused with the numbers before anything starts, rather than an engine dying of a CUDA
    # OOM at start; from the move to starting the ledger counts the memory as taken.
    ledger.reserve(instance, {State.STOPPED, State.ERROR, State.UNKNOWN}, State.STARTING,
                   for_launch=True, state_detail="")  # fmt: skip
    try:
        engine = launcher().start(spec)
        Instance.objects.filter(pk=instance.pk).update(
            pid=engine.pid, log_path=str(engine.log_path), pinned_baseline_bytes=None
        )
        ready = launcher().wait_ready(engine, timeout=LAUNCH_READY_TIMEOUT)
    except (LaunchError, EngineAlreadyRunningError, ValueError) as error:
        outcome.log_excerpt = "\n".join(getattr(error, "last_lines", []))[-4000:]
        summary = error.reason if isinstance(error, LaunchError) else str(error).splitlines()[0]
        transition(instance.pk, {State.STARTING}, State.ERROR, state_detail=summary)
        if isinstance(error, LaunchError):
            record_launch_failure(instance, error)
            raise
        raise JobRefusedError(summary) from None
    move(instance, {State.STARTING}, State.AWAKE, sleep_level=None, last_seen=timezone.now())
    outcome.engine_seconds = ready.model_load_seconds
    outcome.add_step(
        "launch",
        instance.name,
        seconds_to_ready=round(ready.seconds_to_ready, 3),
        model_loaded_gib=ready.model_loaded_gib,
        kv_cache_tokens=ready.kv_cache_tokens,
    )


def record_launch_failure(instance: Instance, error: LaunchError) -> None:
    """The why and the log's end among the instance's events, live on its page: the live
    tail may have missed them (an engine that dies in its first second)."""
    lines = [redact_secrets(line) for line in error.last_lines[-LAUNCH_FAILURE_LINES:]]
    event = EngineEvent.objects.create(
        instance=instance, kind="launch_failed", message="\n".join([error.reason, *lines])
    )
    publish(*notify.engine_event_messages([event]))


def stop(job: Job, outcome: JobOutcome) -> None:
    instance = job.instance
    pid = instance.pid
    assert pid is not None, "check_state refuses to stop an engine the console did not launch"
    move(instance, set(STARTS_FROM[JobKind.STOP]), State.STOPPING)
    exit_code = launcher().stop(pid, grace=30)
    move(instance, {State.STOPPING}, State.STOPPED, pid=None, sleep_level=None, state_detail="")
    outcome.add_step("stop", instance.name, exit_code=exit_code)
