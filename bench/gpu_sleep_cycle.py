"""Benchmark: sleep/wake cycles of the emulator's CUDA mode on a real GPU.

Starts ``python -m emulator serve ... --device cuda`` with realistic sizes (30 GiB of
weights, the KV cache filling 90% of the card), then runs level-1 and level-2 sleep/wake
cycles through the project's own ``EngineClient`` while a thread samples the GPU with
``NvmlProbe`` and the engine's process tree with ``process_tree_rss`` every 100 ms. The
engine's log is read with ``LogTail``. The pinned host<->device bandwidth is measured with a
plain PyTorch copy in a child process (so this process never holds a CUDA context and NVML
sees only the engine), before and after the cycles. One JSON file holds everything, with
the issue's pass/fail checks:

* NVML-measured memory freed by a level-1 sleep within 2% of the ``Sleep mode freed`` line;
* GPU memory after a wake within 2% of what it was before the sleep;
* level-1 wake efficiency (weights bytes / engine wake seconds / measured H2D) >= 0.9;
* console-measured wake seconds within 50 ms of the engine-reported ones.

    python -m bench.gpu_sleep_cycle --weights-gib 30 --out bench/results/h100.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engines.client import EngineClient
from engines.errors import EngineError
from engines.logparser import EngineLogEvent, EventKind, LogTail
from engines.probes import NvmlProbe, process_tree_rss, read_host

GIB = 1 << 30
GB = 1e9
TOLERANCE = 0.02
MIN_EFFICIENCY = 0.9
MAX_WAKE_GAP_S = 0.05


# --- bandwidth (child process: the only one of ours that touches CUDA) -----------------------


def _timed_copies(dst: Any, src: Any, repeats: int) -> list[float]:
    import torch

    dst.copy_(src, non_blocking=True)  # warm-up: first-touch and driver paths
    torch.cuda.synchronize()
    seconds: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        dst.copy_(src, non_blocking=True)
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure_bandwidth(gib: float, repeats: int) -> dict[str, Any]:
    """Pinned host->device and device->host copies of ``gib``: GB/s (best and median)."""
    import torch

    nbytes = int(gib * GIB)
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    device = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    result: dict[str, Any] = {"bytes": nbytes, "repeats": repeats}
    for name, dst, src in (("h2d", device, host), ("d2h", host, device)):
        seconds = _timed_copies(dst, src, repeats)
        result[f"{name}_gbps"] = nbytes / min(seconds) / GB
        result[f"{name}_gbps_median"] = nbytes / statistics.median(seconds) / GB
    result["device"] = torch.cuda.get_device_name(0)
    result["torch"] = torch.__version__
    return result


def bandwidth_in_child(gib: float, repeats: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.gpu_sleep_cycle", "bandwidth", "--gib", str(gib)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# --- sampling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One 100 ms reading: seconds since the start, GPU used, engine tree RSS, host used."""

    t: float
    gpu_used: int
    rss: int
    host_used: int


class Sampler(threading.Thread):
    """Reads NVML and psutil every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, gpu_index: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.gpu_index = gpu_index
        self.interval = interval
        self.probe = NvmlProbe()
        self.samples: list[Sample] = []
        self.read_seconds: list[float] = []
        self.origin = time.perf_counter()
        self._stop_event = threading.Event()

    def read(self) -> Sample:
        started = time.perf_counter()
        gpu = self.probe.read()[self.gpu_index]
        self.read_seconds.append(time.perf_counter() - started)
        rss = process_tree_rss(self.pid)
        return Sample(started - self.origin, gpu.used_bytes, rss, read_host().used_bytes)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.samples.append(self.read())

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


# --- the engine -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(args: argparse.Namespace, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "emulator", "serve", "bench/gpu-sleep-cycle",
        "--host", "127.0.0.1", "--port", str(port), "--device", "cuda", "--enable-sleep-mode",
        "--emulate-version", args.emulate_version, "--weights-gib", str(args.weights_gib),
        "--gpu-memory-utilization", str(args.gpu_memory_utilization),
        "--startup-seconds", "0", "--disk-gbps", str(args.disk_gbps),
    ]  # fmt: skip
    env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1", "NO_COLOR": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(client: EngineClient, process: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}")
        try:
            if client.health():
                return time.perf_counter() - started
        except EngineError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"emulator not healthy in {timeout} s")


# --- one cycle ---------------------------------------------------------------------------------


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _first(events: list[EngineLogEvent], kind: EventKind) -> EngineLogEvent | None:
    return next((event for event in events if event.event is kind), None)


def _during(sampler: Sampler, start: float, end: float) -> dict[str, Any]:
    inside = [s for s in sampler.samples if start - sampler.origin <= s.t <= end - sampler.origin]
    if not inside:
        return {"samples": 0}
    return {
        "samples": len(inside),
        "gpu_used_min_gib": min(s.gpu_used for s in inside) / GIB,
        "gpu_used_max_gib": max(s.gpu_used for s in inside) / GIB,
        "rss_max_gib": max(s.rss for s in inside) / GIB,
    }


def run_cycle(
    name: str, level: int, client: EngineClient, sampler: Sampler, tail: LogTail
) -> dict[str, Any]:
    """Sleep at ``level``, wake (the three-call wake for level 2), read everything around."""
    tail.poll()
    before = sampler.read()
    started = time.perf_counter()
    sleep_s = _timed(lambda: client.sleep(level))
    asleep = sampler.read()
    time.sleep(0.5)  # let the sampler see the asleep plateau
    woke_at = time.perf_counter()
    wake_s = _timed(client.wake if level == 1 else client.wake_level2)
    awake = sampler.read()
    events = tail.poll()
    wakes = [event.seconds or 0.0 for event in events if event.event is EventKind.WAKE]
    sleep_line, freed_line = _first(events, EventKind.SLEEP), _first(events, EventKind.SLEEP_FREED)
    cumem = _first(events, EventKind.CUMEM_FREED)
    return {
        "name": name,
        "level": level,
        "console_sleep_s": sleep_s,
        "engine_sleep_s": sleep_line.seconds if sleep_line else None,
        "console_wake_s": wake_s,
        "engine_wake_s": sum(wakes),
        "engine_wake_lines": wakes,
        "log_sleep_freed_gib": freed_line.freed_gib if freed_line else None,
        "log_still_in_use_gib": freed_line.still_in_use_gib if freed_line else None,
        "log_backed_up_gib": cumem.backed_up_gib if cumem else None,
        "nvml_used_before_gib": before.gpu_used / GIB,
        "nvml_used_asleep_gib": asleep.gpu_used / GIB,
        "nvml_used_after_gib": awake.gpu_used / GIB,
        "nvml_freed_gib": (before.gpu_used - asleep.gpu_used) / GIB,
        "rss_before_gib": before.rss / GIB,
        "rss_asleep_gib": asleep.rss / GIB,
        "rss_after_gib": awake.rss / GIB,
        "host_used_before_gib": before.host_used / GIB,
        "host_used_asleep_gib": asleep.host_used / GIB,
        "during_sleep": _during(sampler, started, woke_at),
        "during_wake": _during(sampler, woke_at, time.perf_counter()),
        "log_lines": [event.to_json_dict() for event in events],
    }


# --- checks -------------------------------------------------------------------------------------


def _rel(measured: float, reference: float) -> float:
    return abs(measured - reference) / reference if reference else float("inf")


def add_figures(cycle: dict[str, Any], weights_bytes: int, h2d_gbps: float) -> None:
    """Wake efficiency and the issue's checks, for one cycle (in place)."""
    freed = cycle["log_sleep_freed_gib"]
    cycle["freed_rel_error"] = _rel(cycle["nvml_freed_gib"], freed) if freed else None
    cycle["restored_rel_error"] = _rel(cycle["nvml_used_after_gib"], cycle["nvml_used_before_gib"])
    cycle["wake_gap_s"] = cycle["console_wake_s"] - cycle["engine_wake_s"]
    checks: dict[str, bool] = {"memory_restored": cycle["restored_rel_error"] <= TOLERANCE}
    if cycle["level"] == 1:
        engine_gbps = weights_bytes / cycle["engine_wake_s"] / GB
        cycle["wake_gbps"] = engine_gbps
        cycle["wake_efficiency"] = engine_gbps / h2d_gbps
        cycle["console_wake_efficiency"] = weights_bytes / cycle["console_wake_s"] / GB / h2d_gbps
        checks["freed_matches_log"] = (cycle["freed_rel_error"] or 1.0) <= TOLERANCE
        checks["efficiency"] = cycle["wake_efficiency"] >= MIN_EFFICIENCY
        checks["wake_gap"] = abs(cycle["wake_gap_s"]) <= MAX_WAKE_GAP_S
    cycle["checks"] = checks


# --- main ---------------------------------------------------------------------------------------


def _gpu_info(sampler: Sampler) -> dict[str, Any]:
    reading = sampler.probe.read()[sampler.gpu_index]
    return {"name": reading.name, "uuid": reading.uuid, "total_gib": reading.total_bytes / GIB}


def _cycles(args: argparse.Namespace, client: EngineClient, sampler: Sampler) -> list[Any]:
    tail = LogTail(args.log)
    plan = [("level1-first", 1)] + [(f"level1-{i + 2}", 1) for i in range(args.level1_repeats)]
    plan += [(f"level2-{i + 1}", 2) for i in range(args.level2_repeats)]
    return [run_cycle(name, level, client, sampler, tail) for name, level in plan]


def run(args: argparse.Namespace) -> dict[str, Any]:
    bandwidth_before = bandwidth_in_child(args.bandwidth_gib, args.repeats)
    process, url = start_emulator(args, args.log)
    sampler = Sampler(process.pid, args.gpu_index)
    idle = sampler.read()
    try:
        with EngineClient(url, timeout=30.0) as client:
            ready_s = wait_healthy(client, process, args.ready_timeout)
            warmup_s = client.warmup()
            sampler.start()
            cycles = _cycles(args, client, sampler)
            sampler.stop()
            warmup_after_s = client.warmup()
    finally:
        process.terminate()
        process.wait(timeout=60)
    bandwidth_after = bandwidth_in_child(args.bandwidth_gib, args.repeats)
    h2d = max(bandwidth_before["h2d_gbps"], bandwidth_after["h2d_gbps"])
    weights_bytes = int(args.weights_gib * GIB)
    for cycle in cycles:
        add_figures(cycle, weights_bytes, h2d)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "gpu": _gpu_info(sampler),
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "command"
        },
        "weights_bytes": weights_bytes,
        "nvml_used_idle_gib": idle.gpu_used / GIB,
        "ready_s": ready_s,
        "warmup_s": warmup_s,
        "warmup_after_cycles_s": warmup_after_s,
        "bandwidth": {"before": bandwidth_before, "after": bandwidth_after, "h2d_gbps_used": h2d},
        "nvml_read_ms_median": statistics.median(sampler.read_seconds) * 1000,
        "cycles": cycles,
        "all_checks_pass": all(all(c["checks"].values()) for c in cycles),
        "samples": [asdict(sample) for sample in sampler.samples],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    bandwidth = sub.add_parser("bandwidth", help="only measure the pinned copy bandwidth")
    bandwidth.add_argument("--gib", type=float, default=4.0)
    bandwidth.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--weights-gib", type=float, default=30.0)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--emulate-version", default="0.11.0")
    parser.add_argument("--disk-gbps", type=float, default=20.0)
    parser.add_argument("--gpu-index", type=int, default=0)
    parser.add_argument("--level1-repeats", type=int, default=2, help="after the first one")
    parser.add_argument("--level2-repeats", type=int, default=1)
    parser.add_argument("--bandwidth-gib", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--log", type=Path, default=Path("gpu-sleep-cycle-engine.log"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/gpu-sleep-cycle.json"))
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.command == "bandwidth":
        print(json.dumps(measure_bandwidth(args.gib, args.repeats)))
        return
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    summary = {k: v for k, v in result.items() if k != "samples"}
    for cycle in summary["cycles"]:
        cycle.pop("log_lines")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
