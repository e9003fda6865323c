"""Turn a GPU run's ``result.json`` (and ``logs.tar.xz``) into the repository's small fixtures.

    python3 -m bench.real_vllm.fixtures RESULT_DIR tests/engines/fixtures/real-vllm-0.25.0

Writes ``raw-transcript.json`` (the raw phase, every step with its answer parts, timings
and log lines), ``console-run.json`` (each job's console and engine figures, the gateway,
the idle ladder, the kill) and ``engine-logs.txt`` (the engines' lines that matter: every
line the parser knows, warnings and errors, the startup figures), each kept small.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

from engines.logparser import parse_line

MAX_LINE = 300
BARE_PREFIX = re.compile(r"^\([^()]* pid=\d+\)\s*$")
STEP_LINES = 40
STARTUP_WORDS = ("Model loading took", "KV cache", "torch.compile", "Graph capturing",
                 "init engine", "Starting vLLM", "sleep-mode backend", "weights took")  # fmt: skip


def _worth_keeping(line: str) -> bool:
    """Not a tqdm bar, nor the bare process prefix tqdm leaves behind it."""
    return "Completed |" not in line and BARE_PREFIX.match(line) is None


def trim_step(step: dict[str, Any]) -> dict[str, Any]:
    kept = dict(step)
    lines = [line[:MAX_LINE] for line in step.get("log_lines", []) if _worth_keeping(line)]
    kept["log_lines"] = lines[:STEP_LINES] + (["..."] if len(lines) > STEP_LINES else [])
    return kept


def raw_fixture(result: dict[str, Any]) -> dict[str, Any]:
    raw = result["raw"]
    return {
        "vllm": "0.25.0", "date": result["date"], "gpu": result["gpu_start"],
        "python": result.get("python"), "command": raw["command"],
        "seconds_to_ready": raw["seconds_to_ready"],
        "startup_log": [line[:MAX_LINE] for line in raw["startup_log"]],
        "steps": [trim_step(step) for step in raw["steps"]],
    }  # fmt: skip


def _used(snapshot: dict[str, Any] | None) -> int | None:
    gpus = (snapshot or {}).get("gpu") or []
    return gpus[0]["used_bytes"] if gpus else None


def _shared(snapshot: dict[str, Any] | None) -> int | None:
    return ((snapshot or {}).get("host") or {}).get("shared")


def job_summary(entry: dict[str, Any]) -> dict[str, Any]:
    job = entry["job"]
    keep = ("id", "kind", "state", "params", "engine_seconds", "wall_seconds", "freed_gib",
            "backed_up_gib", "still_in_use_gib", "gpu_used_before_bytes",
            "gpu_used_after_bytes", "first_request_seconds", "error", "outcome_detail")  # fmt: skip
    return {
        "label": entry["label"], "instance": entry["instance"],
        "job": {key: job.get(key) for key in keep},
        "driver_seconds": entry.get("driver_seconds"),
        "engine_log_seconds": entry["engine_log_seconds"],
        "added_ms_vs_engine_log": entry.get("added_ms_vs_engine_log"),
        "nvml_used_before": _used(entry.get("before")),
        "nvml_used_after": _used(entry.get("after")),
        "host_shared_before": _shared(entry.get("before")),
        "host_shared_after": _shared(entry.get("after")),
        "engine_events": {
            name: [{k: v for k, v in e.items() if k != "line"} for e in found]
            for name, found in entry.get("engine_events", {}).items()
        },
        "engine_log_lines": {
            name: [line[:MAX_LINE] for line in lines if _worth_keeping(line)][:STEP_LINES]
            for name, lines in entry.get("engine_log_lines", {}).items()
        },
    }  # fmt: skip


def console_fixture(result: dict[str, Any]) -> dict[str, Any]:
    console = result["console"]
    return {
        "vllm": "0.25.0", "date": result["date"], "git": result.get("git"),
        "gpu": result["gpu_start"], "engines": console.get("engines"),
        "jobs": [job_summary(entry) for entry in console.get("jobs", [])],
        "gateway": console.get("gateway"), "idle_ladder": console.get("idle_ladder"),
        "kill": console.get("kill"), "flow_wall_seconds": console.get("flow_wall_seconds"),
        "nvml_start": console.get("nvml_start"), "nvml_end": console.get("nvml_end"),
        "host_start": console.get("host_start"), "host_end": console.get("host_end"),
        "error": console.get("error"),
        "model_loaded": [
            {"instance": entry["instance"], **event}
            for entry in console.get("jobs", []) if entry["verb"] == "launch"
            for found in entry.get("engine_events", {}).values() for event in found
            if event["event"] == "model_loaded"
        ],
    }  # fmt: skip


def engine_lines(tar_path: Path) -> str:
    """The lines of each engine log that matter, under a header naming the log."""
    out = io.StringIO()
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            wanted = "engines" in member.name or "raw" in member.name
            if not member.isfile() or not wanted:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            out.write(f"### {member.name}\n")
            for line in handle.read().decode(errors="replace").splitlines():
                if _matters(line):
                    out.write(line[:MAX_LINE] + "\n")
    return out.getvalue()


def _matters(line: str) -> bool:
    if parse_line(line) is not None or any(word in line for word in STARTUP_WORDS):
        return True
    return (" WARNING " in line or " ERROR " in line) and "Traceback" not in line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result_dir", type=Path)
    parser.add_argument("fixtures", type=Path)
    args = parser.parse_args()
    result = json.loads((args.result_dir / "result.json").read_text())
    args.fixtures.mkdir(parents=True, exist_ok=True)
    if "raw" in result:
        text = json.dumps(raw_fixture(result), indent=1)
        (args.fixtures / "raw-transcript.json").write_text(text + "\n")
    if "console" in result:
        text = json.dumps(console_fixture(result), indent=1, default=str)
        (args.fixtures / "console-run.json").write_text(text + "\n")
    logs = args.result_dir / "logs.tar.xz"
    if logs.exists():
        name = "engine-logs.txt" if "console" in result else "raw-engine-log.txt"
        (args.fixtures / name).write_text(engine_lines(logs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
