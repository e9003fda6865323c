"""Processes for ``bench/gateway.py``: the database, the emulator, uvicorn, LiteLLM."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# One engine answering at once (latency), one decoding at a GPU's pace (throughput).
FAST, PACED = "bench/fast", "bench/paced"
LITELLM = Path("/tmp/litellm-venv/bin/litellm")
LITELLM_KEY = "sk-bench-" + secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(
        DATABASE_URL=f"sqlite:///{data_dir / 'bench.sqlite3'}",
        REDIS_URL=redis_url,
        CONSOLE_REDIS_PREFIX=f"bench-{os.getpid()}:",
        CONSOLE_DATA_DIR=str(data_dir),
        CONSOLE_SECRET_KEY="bench-secret-key",
        DJANGO_SETTINGS_MODULE="console.settings",
    )
    return env


def prepare_database(env: dict[str, str], engines: dict[str, int]) -> str:
    """Migrate, register the emulators as awake instances; returns an inference key."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from console.models import Instance, InstanceState
    from console.models.gateway import InferenceKey

    call_command("migrate", verbosity=0)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Django's settings log requests
    for model, port in engines.items():
        Instance.objects.create(name=model.replace("/", "-"), served_model_name=model,
                                base_url=f"http://127.0.0.1:{port}",
                                state=InstanceState.AWAKE)  # fmt: skip
    return InferenceKey.issue("bench", [])[1]


@contextmanager
def process(argv: Sequence[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            wait_ready(proc, ready_url, log)
            yield
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready:\n{log.read_text()[-2000:]}")


def emulator(
    model: str,
    port: int,
    env: dict[str, str],
    data_dir: Path,
    tokens_per_second: float,
) -> AbstractContextManager[None]:
    argv = [sys.executable, "-m", "emulator", "serve", model, "--host", "127.0.0.1",
            "--port", str(port), "--startup-seconds", "0", "--weights-gib", "1",
            "--kv-cache-gib", "1", "--tokens-per-second", str(tokens_per_second)]  # fmt: skip
    log = data_dir / f"emulator-{port}.log"
    return process(argv, env, f"http://127.0.0.1:{port}/health", log)


def gateway(port: int, env: dict[str, str], data_dir: Path) -> AbstractContextManager[None]:
    argv = [sys.executable, "-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--lifespan", "on"]  # fmt: skip
    return process(argv, env, f"http://127.0.0.1:{port}/v1/models", data_dir / "gateway.log")


def litellm(port: int, engines: dict[str, int], data_dir: Path) -> AbstractContextManager[None]:
    config = data_dir / "litellm.yaml"
    entries = [
        f"  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n"
        f"      api_base: http://127.0.0.1:{engine_port}/v1\n      api_key: none\n"
        for model, engine_port in engines.items()
    ]
    config.write_text("model_list:\n" + "".join(entries))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    env["LITELLM_MASTER_KEY"] = LITELLM_KEY
    argv = [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return process(
        argv, env, f"http://127.0.0.1:{port}/health/liveliness", data_dir / "litellm.log"
    )
