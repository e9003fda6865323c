"""What ``manage.py up`` runs, in order: database, Redis, web, worker, beat (and agent)."""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from console.jobs.process import launcher
from console.models import Instance, InstanceState
from console.services.demo import SIM_GPU_GIB, start_demo
from console.services.redis import find_redis_server, redis_argv, wait_until_answering
from console.services.service_status import status_path, write_failing
from console.services.supervisor import Child, Supervisor
from engines.probes import NvmlProbe

log = logging.getLogger(__name__)


class UpError(RuntimeError):
    """The console cannot start; the message says why in one line."""


@dataclass(frozen=True)
class UpOptions:
    """The flags of ``manage.py up``."""

    bind: str
    port: int
    demo: bool | None  # None: decide (demo when no GPU and no instance yet)


def check_port_free(bind: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind, port))
        except OSError as error:
            raise UpError(
                f"cannot listen on {bind}:{port} ({error.strerror}); use --port"
            ) from None


def child_env() -> dict[str, str]:
    """Every child reads the same settings: the resolved data dir and Redis URL."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "console.settings"
    env["CONSOLE_DATA_DIR"] = str(settings.DATA_DIR)
    env["REDIS_URL"] = settings.REDIS_URL
    return env


def wait_until_listening(options: UpOptions, web: Child, timeout: float = 60.0) -> None:
    """The URL printed next must answer: wait for the web server to accept connections."""
    host = "127.0.0.1" if options.bind in ("0.0.0.0", "") else options.bind.strip("[]")
    host = "::1" if host == "::" else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.exit_code() is None:
        try:
            socket.create_connection((host, options.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def web_child(options: UpOptions) -> Child:
    # h11 with a bounded head: httptools buffers a header of any size (a 64 MB one grew the
    # process by as much, before authentication); h11 refuses a head over 64 KiB with 400.
    return Child(
        "web",
        python_module(
            "uvicorn", "console.asgi:application", "--host", options.bind,
            "--port", str(options.port), "--lifespan", "off", "--no-access-log",
            "--http", "h11", "--h11-max-incomplete-event-size", "65536",
        ),
    )  # fmt: skip


def _celery_worker(name: str, queue: str, threads: int, logs: Path) -> Child:
    # Threads: control jobs spend their time waiting on engines' HTTP answers, and a
    # level-1 sleep of a large model can take a minute; processes would idle a core each.
    return Child(
        name,
        python_module(
            "celery", "-A", "console", "worker", "--queues", queue, "--pool", "threads",
            "--concurrency", str(threads), "--hostname", f"{queue}@%h", "--without-gossip",
            "--without-mingle", "--loglevel", "INFO",
        ),
        logs / f"{name}.log",
    )  # fmt: skip


def worker_child(logs: Path) -> Child:
    """The jobs (sleep, wake, switch; run_job on ``control``)."""
    return _celery_worker("worker", "control", 8, logs)


def background_child(logs: Path) -> Child:
    """Every task but jobs (settings.CELERY_TASK_ROUTES), in a process of its own: it never
    holds a thread or the interpreter that a job's critical path needs."""
    return _celery_worker("background", "background", 4, logs)


def beat_child(logs: Path, data_dir: Path) -> Child:
    return Child(
        "beat",
        python_module(
            "celery", "-A", "console", "beat", "--loglevel", "INFO",
            "--schedule", str(data_dir / "celerybeat-schedule"),
        ),
        logs / "beat.log",
    )  # fmt: skip


def agent_child(logs: Path, host: str, simulate: bool) -> Child:
    sim = ["--sim-gpus", "1", "--sim-gpu-gib", str(SIM_GPU_GIB)] if simulate else []
    return Child(
        "agent", [sys.executable, "manage.py", "agent", "--host", host, *sim], logs / "agent.log"
    )


def has_nvidia_gpu() -> bool:
    return bool(NvmlProbe().read())


def local_host_name() -> str:
    return socket.gethostname().split(".")[0] or "local"


def stop_local_engines() -> None:
    """Ctrl-C leaves nothing behind: the engines launched here stop with the console."""
    for engine in launcher().find_running():
        launcher().stop(engine.pid, grace=15)
        Instance.objects.filter(pid=engine.pid).update(
            state=InstanceState.STOPPED,
            pid=None,
            sleep_level=None,
            pinned_baseline_bytes=None,
            state_detail="console stopped",
        )


def prepare_database() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createadmin", username="admin", if_missing=True)


def start_redis(supervisor: Supervisor, logs: Path) -> None:
    socket_path: Path = settings.EMBEDDED_REDIS_SOCKET
    socket_path.parent.mkdir(parents=True, exist_ok=True)

    def remove_stale_socket() -> None:
        socket_path.unlink(missing_ok=True)  # left by a killed one; redis won't bind over it

    supervisor.start(
        Child(
            "redis",
            redis_argv(find_redis_server(), socket_path),
            logs / "redis.log",
            infrastructure=True,
            prepare=remove_stale_socket,
        )
    )
    wait_until_answering(settings.REDIS_URL)


def run(options: UpOptions) -> int:
    """Start everything, keep it running until Ctrl-C/SIGTERM, stop everything."""
    data_dir: Path = settings.DATA_DIR
    logs = data_dir / "logs"
    check_port_free(options.bind, options.port)
    failing_file = status_path(data_dir)
    write_failing(failing_file, [])  # what a previous run left is not news
    supervisor = Supervisor(child_env(), on_failing=functools.partial(write_failing, failing_file))
    supervisor.install_signal_handlers()
    try:
        if settings.EMBEDDED_REDIS:
            start_redis(supervisor, logs)
        # After Redis: creating the admin publishes to open pages through it.
        prepare_database()
        web = supervisor.start(web_child(options))
        supervisor.start(worker_child(logs))
        supervisor.start(background_child(logs))
        supervisor.start(beat_child(logs, data_dir))
        host = local_host_name()
        gpu = has_nvidia_gpu()
        supervisor.start(agent_child(logs, host, simulate=not gpu))
        if options.demo or (options.demo is None and not gpu and not Instance.objects.exists()):
            threading.Thread(target=start_demo, args=(host,), name="demo", daemon=True).start()
            print("demo mode: launching two emulated engines on one simulated GPU", flush=True)
        wait_until_listening(options, web)
        shown = f"[{options.bind}]" if ":" in options.bind else options.bind
        print(f"vLLM Console is up at http://{shown}:{options.port}/", flush=True)
        print(f"data in {data_dir}, logs in {logs}; Ctrl-C stops everything", flush=True)
        supervisor.wait()
    finally:
        supervisor.stop_all()
        stop_local_engines()
        write_failing(failing_file, [])
    print("stopped", flush=True)
    return 0
