"""Start the vLLM emulator as a real subprocess on a free loopback port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmulatorProcess:
    """A running emulator: its URL, its process and the file its output goes to."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """The log once it holds ``text``: what the server writes after its answer comes later.

        Uvicorn logs an application's traceback after the 500 has been sent, so a client can
        read the log before the traceback is in it.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text()
            if text in log or time.monotonic() > deadline:
                return log
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def _wait_ready(emulator: EmulatorProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=0.5) as client:
        while time.monotonic() < deadline:
            if not emulator.alive():
                raise RuntimeError(f"emulator exited at start:\n{emulator.log_text()[-3000:]}")
            try:
                if client.get(f"{emulator.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"emulator not ready in {timeout}s:\n{emulator.log_text()[-3000:]}")


@contextmanager
def run_emulator(
    tmp_path: Path,
    *args: str,
    model: str = "facebook/opt-125m",
    version: str = "0.11.0",
    dev_mode: str | None = "1",
    env: dict[str, str] | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[EmulatorProcess]:
    """Run ``python -m emulator serve MODEL --port P --emulate-version V *args``.

    ``dev_mode=None`` leaves ``VLLM_SERVER_DEV_MODE`` unset. The process is killed on exit.
    """
    port = free_port()
    command: Sequence[str] = [
        sys.executable, "-m", "emulator", "serve", model,
        "--host", "127.0.0.1", "--port", str(port), "--emulate-version", version, *args,
    ]  # fmt: skip
    child_env = {k: v for k, v in os.environ.items() if k != "VLLM_SERVER_DEV_MODE"}
    if dev_mode is not None:
        child_env["VLLM_SERVER_DEV_MODE"] = dev_mode
    child_env.update(env or {})
    log_path = tmp_path / f"emulator-{port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, env=child_env, start_new_session=True
    )
    emulator = EmulatorProcess(f"http://127.0.0.1:{port}", port, process, log_path, log_file)
    try:
        _wait_ready(emulator, ready_timeout)
        yield emulator
    finally:
        if emulator.alive():
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()
        log_file.close()
