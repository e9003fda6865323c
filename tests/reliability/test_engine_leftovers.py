"""An engine whose server process died leaves no worker behind holding GPU memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from console.agent.loop import AgentLoop
from console.models import Host, Instance, InstanceState
from engines.probes.sim import SimGpuProbe

# A stand-in for vLLM's API server: it starts a worker (as vLLM starts its EngineCore) in
# its own process group, prints the worker's pid, and waits.
SERVER = (
    "import subprocess, sys, time\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(worker.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_the_workers_of_an_engine_whose_server_died_are_stopped(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, start_new_session=True, text=True
    )
    assert server.stdout is not None
    worker = int(server.stdout.readline())
    try:
        host = Host.objects.create(name="leftovers")
        instance = Instance.objects.create(
            name="leftover", served_model_name="m/left", base_url="http://127.0.0.1:9",
            host=host, pid=server.pid, state=InstanceState.AWAKE,
        )  # fmt: skip
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        assert psutil.Process(worker).is_running(), "the worker outlives its server"
        AgentLoop(host=host, probe=SimGpuProbe(tmp_path)).check_alive(instance)
        instance.refresh_from_db()
        assert instance.state == InstanceState.ERROR
        assert gone(worker, 10), "the worker was stopped with its server's process group"
    finally:
        for pid in (server.pid, worker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
