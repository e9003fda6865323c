"""Real vLLM end to end: a raw transcript, then the console driving two engines.

On the GPU machine (``gpu_run.sh`` installs everything first)::

    python3 -m bench.real_vllm.driver --out /tmp/rvout --models /tmp/rvmodels

Here, against emulated engines at ``--emulate-version 0.25.0`` on the simulated GPU::

    .venv/bin/python -m bench.real_vllm.driver --emulate --out /tmp/rvout

Phases (``--phases raw,console``): ``raw`` starts one engine itself (the dummy-weights
model) and records the transcript of ``raw.SEQUENCE``; ``console`` starts
``manage.py up --no-demo`` and runs ``flow.Flow``. Writes ``result.json`` (everything) and
``logs.tar.xz`` (the engines' and the console's logs) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tarfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from engines.probes import NvmlProbe, SimGpuProbe
from engines.simgpu import GIB, SimGpu, SimGpuDir

from .console import local_gpu, start_console
from .flow import EngineDef, Flow
from .probes import GaveUpError, LogCursor, gpu_snapshot, host_snapshot, wait_for
from .raw import RawRecorder

ROOT = Path(__file__).resolve().parents[2]
VLLM_MODULE = "python3 -m vllm.entrypoints.cli.main"
EMULATOR = "python -m emulator"
UTILIZATION = 0.55
# The emulated GPU of ``manage.py up`` without a GPU is 24 GiB: two of these cannot be awake.
EMU_ARGS = ["--emulate-version", "0.25.0", "--weights-gib", "8", "--kv-cache-gib", "5",
            "--startup-seconds", "2"]  # fmt: skip


def free_port(preferred: int = 0) -> int:
    """``preferred`` when free (vLLM's usual 8000s: inside the console's allowed engine
    ports), else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def engine_defs(args: argparse.Namespace, total_gib: float) -> list[EngineDef]:
    common = ["--max-model-len", "4096"]
    if args.emulate:
        a_args = [*EMU_ARGS, *common]
        b_args = [*EMU_ARGS, *common, "--load-format", "dummy"]
        executable, env, weights, kv = EMULATOR, {}, 8.0, 5.0
        a_model, b_model = "emu/model-a", "emu/model-b"
    else:
        a_args, b_args = list(common), [*common, "--load-format", "dummy"]
        executable, env = VLLM_MODULE, {"PYTHONPATH": args.vllm_site}
        # 13.5 GiB of Llama-8B weights; the KV cache is what the share leaves after them
        # and about 2 GiB of activations, CUDA graphs and the CUDA context.
        weights, kv = 13.5, round(UTILIZATION * total_gib - 13.5 - 2.0, 1)
        a_model, b_model = str(args.models / "model-a"), str(args.models / "model-b")
    return [
        EngineDef("real-a", "real/llama-8b-a", a_model, free_port(8101), executable, a_args, env,
                  UTILIZATION, weights, kv),
        EngineDef("real-b", "real/llama-8b-b", b_model, free_port(8102), executable, b_args, env,
                  UTILIZATION, weights, kv),
    ]  # fmt: skip


# --- raw phase ----------------------------------------------------------------------------


def raw_command(args: argparse.Namespace, port: int) -> list[str]:
    flags = ["--host", "127.0.0.1", "--port", str(port), "--enable-sleep-mode",
             "--served-model-name", "real/raw", "--gpu-memory-utilization", str(UTILIZATION),
             "--max-model-len", "4096", "--load-format", "dummy"]  # fmt: skip
    if args.emulate:
        return [sys.executable, "-m", "emulator", "serve", "emu/raw", *flags,
                "--emulate-version", "0.25.0", "--weights-gib", "13.49",
                "--gpu-total-gib", "140.4", "--startup-seconds", "2"]  # fmt: skip
    return [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve",
            str(args.models / "model-b"), *flags]  # fmt: skip


def run_raw(args: argparse.Namespace, work: Path, probe_for: Any) -> dict[str, Any]:
    port = free_port()
    log_path = work / "raw-engine.log"
    env = dict(os.environ, VLLM_SERVER_DEV_MODE="1", PYTHONUNBUFFERED="1")
    if not args.emulate:
        env["PYTHONPATH"] = args.vllm_site
    sim = work / "rawsim"
    if args.emulate:
        SimGpuDir(sim).create([SimGpu(0, "GPU-raw", "Simulated H200", int(140.4 * GIB))])
        env["VLLM_CONSOLE_SIM_GPU_DIR"] = str(sim)
    probe = probe_for(sim)
    command = raw_command(args, port)
    before = {"gpu": gpu_snapshot(probe), "host": host_snapshot()}
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=ROOT)  # fmt: skip
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise GaveUpError(f"raw engine exited {process.returncode}")
        return httpx.get(f"{url}/health", timeout=2).status_code == 200

    try:
        wait_for(healthy, args.launch_timeout, "the raw engine", interval=0.5)
        ready = time.monotonic() - started
        print(f"raw engine ready in {ready:.1f} s", flush=True)
        recorder = RawRecorder(url, LogCursor(log_path), probe, "real/raw")
        steps = recorder.run(lambda step: print(f"  raw {step}", flush=True))
        return {"command": command, "seconds_to_ready": round(ready, 2), "before": before,
                "steps": steps, "startup_log": startup_lines(log_path)}  # fmt: skip
    finally:
        stop_process(process)


def startup_lines(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    keep = (
        "Model loading took",
        "KV cache",
        "torch.compile",
        "Graph capturing",
        "init engine",
        "Starting vLLM",
        "version",
        "sleep-mode backend",
        "Loading weights",
        "memory",
    )
    return [line[:400] for line in lines[:400] if any(k in line for k in keep)]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- console phase ------------------------------------------------------------------------


def run_console(args: argparse.Namespace, work: Path, probe_for: Any) -> dict[str, Any]:
    data_dir = work / "console"
    extra = {"PYTHONPATH": args.console_pythonpath} if args.console_pythonpath else {}
    console = start_console(ROOT, sys.executable, data_dir, free_port(), extra)
    probe = probe_for(data_dir / "simgpu")
    total = (gpu_snapshot(probe) or [{"total_bytes": 24 * GIB}])[0]["total_bytes"] / GIB
    flow = Flow(console, probe, launch_timeout=args.launch_timeout)
    result: dict[str, Any] = {"engines": []}
    try:
        defs = engine_defs(args, total)
        result["engines"] = [d.__dict__ for d in defs]
        flow.register(defs)
        result.update(flow.run("real-a", "real-b", (args.idle_t1, args.idle_t2)))
    except Exception:
        result["error"] = traceback.format_exc()
        print(result["error"], flush=True)
        result.update({k: v for k, v in flow.record.items() if k not in result})
        try:
            flow.refresh_jobs()
        except Exception:
            traceback.print_exc()
        result["jobs"] = flow.jobs
    finally:
        result["console_stop_code"] = console.stop()
        result["left_on_gpu_after_stop"] = reap_leftovers(probe)
    return result


def reap_leftovers(probe: Any) -> list[dict[str, Any]]:
    """GPU processes still alive once the console stopped (an engine core whose API server
    was SIGKILLed outlives it): recorded, then killed by pid so the next phase has the GPU."""
    time.sleep(5)
    found = []
    for gpu in gpu_snapshot(probe):
        for held in gpu["processes"]:
            try:
                process = psutil.Process(held["pid"])
                title = " ".join(process.cmdline())[:200]
            except psutil.Error:
                continue
            found.append({**held, "cmdline": title})
            if "vllm" in title.lower() or "EngineCore" in title:
                process.kill()
    return found


def check_console_up(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Only start the console and wait for its agent to register the GPU (a quick check)."""
    extra = {"PYTHONPATH": args.console_pythonpath} if args.console_pythonpath else {}
    started = time.monotonic()
    console = start_console(ROOT, sys.executable, work / "upcheck", free_port(), extra)
    try:
        local_gpu(console)
        return {"seconds_to_gpu": round(time.monotonic() - started, 2),
                "hosts": console.rows("/api/hosts/")}  # fmt: skip
    finally:
        console.stop()


def collect_logs(work: Path, out: Path) -> None:
    """Engine and console logs into one tar.xz (the device returns at most 8 files)."""
    with tarfile.open(out / "logs.tar.xz", "w:xz") as tar:
        for path in sorted(work.rglob("*.log")):
            tar.add(path, arcname=str(path.relative_to(work)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulate", action="store_true", help="emulated engines, simulated GPU")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rvwork"))
    parser.add_argument("--models", type=Path, default=Path("/tmp/rvmodels"))
    parser.add_argument("--vllm-site", default="/tmp/vllm-site")
    parser.add_argument("--console-pythonpath", default=os.environ.get("PYTHONPATH", ""))
    parser.add_argument("--phases", default="raw,console")
    parser.add_argument("--launch-timeout", type=float, default=600)
    parser.add_argument("--idle-t1", type=int, default=6)
    parser.add_argument("--idle-t2", type=int, default=12)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)

    def probe_for(sim: Path) -> Any:
        return SimGpuProbe(sim) if args.emulate else NvmlProbe()

    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "emulate": args.emulate,
        "platform": platform.platform(), "python": sys.version.split()[0],
        "git": git_head(), "gpu_start": gpu_snapshot(probe_for(args.work / "none")),
        "host_start": host_snapshot(),
    }  # fmt: skip
    started = time.monotonic()
    phases = {
        "upcheck": lambda: check_console_up(args, args.work),
        "raw": lambda: run_raw(args, args.work, probe_for),
        "console": lambda: run_console(args, args.work, probe_for),
    }
    for name in args.phases.split(","):
        try:  # each phase on its own: one failing does not cost the others their machine
            result[name] = phases[name]()
        except Exception:
            result.setdefault("errors", {})[name] = traceback.format_exc()
            print(result["errors"][name], flush=True)
        write(args.out, result)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    write(args.out, result)
    collect_logs(args.work, args.out)
    print(f"done in {result['wall_seconds']} s", flush=True)
    return 0 if "errors" not in result else 1


def git_head() -> str:
    try:
        command = ["git", "log", "-1", "--format=%H %s"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()
    except OSError:
        return ""


def write(out: Path, result: dict[str, Any]) -> None:
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
