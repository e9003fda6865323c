"""Fixtures and HTTP helpers for the emulator tests (fast arguments, simulated GPUs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from engines.logparser import EngineLogEvent, EventKind, parse_text
from engines.simgpu import GIB, SimGpu, SimGpuDir
from tests.support.emulator import EmulatorProcess, run_emulator

# 2 GiB of weights and 4 GiB of KV cache; every modelled wait a hundred times shorter.
FAST = (
    "--enable-sleep-mode", "--weights-gib", "2", "--kv-cache-gib", "4",
    "--startup-seconds", "0", "--time-scale", "0.01",
)  # fmt: skip


SharedEmulator = Callable[..., EmulatorProcess]


@pytest.fixture(scope="session")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedEmulator]:
    """``shared_emulator(version, dev_mode)``: one FAST emulator per pair for the session.

    Only for tests that change nothing (no sleep, no wake that does something, no crash):
    starting an emulator costs more than most checks.
    """
    running: dict[tuple[str, str | None], EmulatorProcess] = {}
    with ExitStack() as stack:

        def get(version: str = "0.11.0", dev_mode: str | None = "1") -> EmulatorProcess:
            key = (version, dev_mode)
            if key not in running:
                tmp = tmp_path_factory.mktemp(f"emulator-{version}")
                started = run_emulator(tmp, *FAST, version=version, dev_mode=dev_mode)
                running[key] = stack.enter_context(started)
            return running[key]

        yield get


@pytest.fixture
def sim_dir(tmp_path: Path) -> SimGpuDir:
    """Two simulated 16 GiB GPUs."""
    directory = SimGpuDir(tmp_path / "simgpu")
    directory.create(
        [SimGpu(index, f"GPU-sim-{index}", "Simulated H100", 16 * GIB) for index in (0, 1)]
    )
    return directory


@pytest.fixture
def sim_env(sim_dir: SimGpuDir) -> dict[str, str]:
    """Environment that makes the emulator publish to ``sim_dir`` on GPU 0."""
    return {"VLLM_CONSOLE_SIM_GPU_DIR": str(sim_dir.path), "CUDA_VISIBLE_DEVICES": "0"}


# One client for every call: building one per call (its SSL context) costs ~20 ms. No
# kept-alive connections: after an uncaught exception the emulator, like vLLM, closes the
# connection without "Connection: close", and a call on it could fail with a reset (seen in
# CI: the OOM wake's 500, then /is_sleeping). tests/engines/test_client_dropped_connection.py
# tests that behaviour on purpose.
_HTTP = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def post(emu: EmulatorProcess, path: str, **kwargs: Any) -> httpx.Response:
    return _HTTP.post(emu.url + path, **kwargs)


def get(emu: EmulatorProcess, path: str, **kwargs: Any) -> httpx.Response:
    return _HTTP.get(emu.url + path, **kwargs)


def is_sleeping(emu: EmulatorProcess) -> bool:
    return bool(get(emu, "/is_sleeping").json()["is_sleeping"])


def complete(emu: EmulatorProcess, prompt: str = "Hello", max_tokens: int = 8) -> httpx.Response:
    return post(emu, "/v1/completions", json={"prompt": prompt, "max_tokens": max_tokens})


def completion_text(emu: EmulatorProcess, prompt: str = "Hello") -> str:
    response = complete(emu, prompt)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["text"])


def events(emu: EmulatorProcess, kind: EventKind) -> list[EngineLogEvent]:
    return [event for event in parse_text(emu.log_text()) if event.event is kind]


def metric(emu: EmulatorProcess, name: str, **labels: str) -> float:
    """The value of one sample of ``/metrics`` (labels matched as a subset)."""
    for line in get(emu, "/metrics").text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(f"{name} {labels} not in /metrics")


def sse_payloads(body: str) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded except ``[DONE]``."""
    payloads: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            payloads.append(data if data == "[DONE]" else json.loads(data))
    return payloads
