"""Benchmark: WebSocket fan-out of the live feed to N dashboards.

Starts the console's ASGI app in a real uvicorn process (SQLite in a temp dir, the Redis
channel layer), opens N ``/ws/console/`` connections as a signed-in viewer, and publishes
through ``console.realtime.publisher`` what 8 GPUs and 16 instances produce at 1 Hz (one
batch a second: 8 gpu.sample, 1 host.sample, 16 instance.state). Reports the delivery
latency of the samples (publish -> received by the client, p50/p99) and the web process's
CPU. The console's target: p99 under 200 ms at 200 clients. Clients and publisher share one
process beside uvicorn: on a small machine they compete with it for CPU.

    .venv/bin/python bench/fanout.py --clients 50 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 200.0
GIB = 1 << 30


def environment(data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRET_KEY": "bench-only",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        "CONSOLE_REDIS_PREFIX": f"bench-{os.getpid()}:",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }


def prepare(gpus: int, instances: int) -> str:
    """Migrate, create the fleet and a viewer; returns the viewer's session cookie."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from console.models import Gpu, Host, Instance
    from console.roles import Role, assign_role

    call_command("migrate", verbosity=0)
    host = Host.objects.create(name="bench-host")
    for index in range(gpus):
        Gpu.objects.create(host=host, index=index, total_bytes=80 * GIB)
    for number in range(instances):
        Instance.objects.create(
            name=f"model-{number}", served_model_name=f"m/{number}", host=host,
            base_url=f"http://127.0.0.1:{9000 + number}",
        )  # fmt: skip
    viewer = User.objects.create_user("bench-viewer", password="bench-password-123")
    assign_role(viewer, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    return client.cookies["sessionid"].value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_web(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    raise TimeoutError(f"uvicorn not listening on {port}")


def tick_events(gpus: int, instances: int) -> list[Any]:
    at = datetime.now(UTC).isoformat()
    names = [f"model-{n}" for n in range(instances)]
    events: list[Any] = [
        {"type": "gpu.sample", "host": "bench-host", "gpu_id": i + 1, "index": i, "at": at,
         "used_bytes": 40 * GIB, "total_bytes": 80 * GIB, "utilization_pct": 50,
         "by_instance": {names[2 * i % instances]: 20 * GIB}}
        for i in range(gpus)
    ]  # fmt: skip
    events.append({"type": "host.sample", "host": "bench-host", "host_id": 1, "at": at,
                   "used_bytes": 100 * GIB, "total_bytes": 512 * GIB, "swap_used_bytes": 0,
                   "instance_rss": {name: 2 * GIB for name in names}})  # fmt: skip
    events += [
        {"type": "instance.state", "instance_id": n + 1, "name": name, "state": "awake",
         "sleep_level": None, "state_detail": "", "is_demo": False}
        for n, name in enumerate(names)
    ]  # fmt: skip
    return events


async def listen(ws: ClientConnection, latencies: list[float], counts: list[int]) -> None:
    async for raw in ws:
        event = json.loads(raw)
        counts[0] += 1
        if "at" in event and event["type"].endswith(".sample"):
            sent = datetime.fromisoformat(event["at"]).timestamp()
            latencies.append((time.time() - sent) * 1000)


async def run_round(
    port: int, cookie: str, clients: int, seconds: float, fleet: tuple[int, int]
) -> dict[str, float]:
    from console.realtime.publisher import apublish

    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    sockets = []
    for _ in range(clients):
        ws = await connect(f"ws://127.0.0.1:{port}/ws/console/", additional_headers=headers,
                           max_size=None)  # fmt: skip
        assert json.loads(await ws.recv())["type"] == "snapshot"
        sockets.append(ws)
    latencies: list[float] = []
    counts = [0]
    listeners = [asyncio.create_task(listen(ws, latencies, counts)) for ws in sockets]
    await apublish(*tick_events(*fleet))  # warm-up tick, not counted
    await asyncio.sleep(2)
    latencies.clear()
    counts[0] = 0
    ticks = int(seconds)
    started = time.monotonic()
    for tick in range(ticks):
        await apublish(*tick_events(*fleet))
        await asyncio.sleep(max(0.0, started + tick + 1 - time.monotonic()))
    await asyncio.sleep(1)
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    expected = ticks * clients * (fleet[0] + 1 + fleet[1])
    ordered = sorted(latencies)
    return {
        "delivered": counts[0] / expected,
        "p50": statistics.median(ordered),
        "p99": ordered[int(len(ordered) * 0.99) - 1],
    }


def cpu_percent(before: Any, after: Any, wall: float) -> float:
    """CPU time used between two ``cpu_times()``, as a percentage of one core."""
    used: float = after.user + after.system - before.user - before.system
    return used / wall * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--instances", type=int, default=16)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    env = environment(data_dir)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    cookie = prepare(args.gpus, args.instances)
    port = free_port()
    web = start_web(port, env, data_dir / "uvicorn.log")
    try:
        cpu, own = psutil.Process(web.pid), psutil.Process()
        header = ("delivered", "p50 ms", "p99 ms", "web CPU", "client CPU", "p99/200ms")
        print(f"{'clients':>8}" + "".join(f"{name:>12}" for name in header))
        for clients in args.clients:
            before, mine, wall = cpu.cpu_times(), own.cpu_times(), time.monotonic()
            fleet = (args.gpus, args.instances)
            result = asyncio.run(run_round(port, cookie, clients, args.seconds, fleet))
            wall = time.monotonic() - wall
            figures = (
                f"{result['delivered']:.1%}", f"{result['p50']:.1f}", f"{result['p99']:.1f}",
                f"{cpu_percent(before, cpu.cpu_times(), wall):.0f}%",
                f"{cpu_percent(mine, own.cpu_times(), wall):.0f}%",
                f"{result['p99'] / TARGET_P99_MS:.2f}x",
            )  # fmt: skip
            print(f"{clients:>8}" + "".join(f"{figure:>12}" for figure in figures))
    finally:
        web.terminate()
        web.wait(timeout=20)
        shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
