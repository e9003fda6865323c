"""Start an agent: pick the GPU probe, register the host, run the loop and the host worker."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console.agent.loop import AgentLoop, register
from console.celery import app
from console.jobs.process import launch_on
from console.jobs.reconcile import fail_lost_host_jobs
from console.jobs.sampling import listen_for_requests
from engines.probes import GpuProbe, gpu_probe
from engines.simgpu import GIB, SimGpu, SimGpuDir

AGENT_VERSION = "0.1.0"


@dataclass(frozen=True)
class AgentOptions:
    """The flags of ``manage.py agent``."""

    host: str
    sim_gpus: int
    sim_gpu_gib: float
    interval: float
    concurrency: int


def simulated_gpus(options: AgentOptions) -> Path | None:
    """The sim GPU dir when asked for (``--sim-gpus``) or already declared, else None (NVML)."""
    directory = SimGpuDir(settings.SIM_GPU_DIR)
    if options.sim_gpus:
        directory.create(
            [
                SimGpu(
                    i,
                    f"GPU-sim-{options.host}-{i}",
                    "Simulated GPU",
                    int(options.sim_gpu_gib * GIB),
                )
                for i in range(options.sim_gpus)
            ]
        )
    return directory.path if directory.exists() else None


def host_probe(options: AgentOptions) -> GpuProbe:
    """The one probe of this agent's life: its readings, the pinned memory it counts and
    what the engines it launches are told all follow from this choice."""
    return gpu_probe(simulated_gpus(options))


def run_agent(options: AgentOptions) -> None:
    probe = host_probe(options)
    launch_on(probe)
    host = register(options.host, probe, AGENT_VERSION)
    # Before taking jobs: those its previous run was running died with it (SIGKILL, reboot).
    fail_lost_host_jobs(host.pk)
    loop = AgentLoop(host, probe, options.interval)
    threading.Thread(target=loop.run_forever, name="agent-loop", daemon=True).start()
    threading.Thread(
        target=listen_for_requests, args=(host.name, loop.asked, loop.stopped),
        name="agent-sample-requests", daemon=True,
    ).start()  # fmt: skip
    try:
        app.worker_main(
            [
                "worker",
                "--queues", f"host.{options.host}",
                "--pool", "threads",
                "--concurrency", str(options.concurrency),
                "--hostname", f"agent-{options.host}@%h",
                "--without-gossip", "--without-mingle",
                "--loglevel", "INFO",
            ]
        )  # fmt: skip
    finally:
        loop.stopped.set()
        loop.asked.set()
