"""The tables of docs/real-vllm.md from a run's ``result.json`` (or ``console-run.json``).

    python3 -m bench.real_vllm.summary tests/engines/fixtures/real-vllm-0.25.0/console-run.json

Per job: the console's wall and engine seconds against the engine's own log lines, the
console's GPU figures against NVML read by the driver, and what the console added.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

GIB = 1 << 30


def _pct(mine: float | None, truth: float | None) -> str:
    if mine is None or truth is None or truth == 0:
        return "-"
    return f"{(mine - truth) / truth * 100:+.1f}%"


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value / GIB:.2f}"


def _logged(job: dict[str, Any], kind: str, figure: str) -> float | None:
    values = [
        e[figure]
        for found in job["engine_events"].values()
        for e in found
        if e["event"] == kind and e.get(figure) is not None
    ]
    return sum(values) if values else None


def job_rows(jobs: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| job | state | console wall s | console engine s | engine log s | diff | added ms "
        "| freed GiB console / log | NVML used before → after GiB | console before → after "
        "| diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in jobs:
        job = entry["job"]
        own = entry["engine_log_seconds"]
        freed_log = _logged(entry, "sleep_freed", "freed_gib")
        nvml_after = entry.get("nvml_used_after")
        console_after = job.get("gpu_used_after_bytes")
        rows.append(
            f"| {entry['label']} | {job['state']} | {job.get('wall_seconds')} "
            f"| {job.get('engine_seconds')} | {own} | {_pct(job.get('engine_seconds'), own)} "
            f"| {entry.get('added_ms_vs_engine_log')} | {job.get('freed_gib')} / {freed_log} "
            f"| {_gib(entry.get('nvml_used_before'))} → {_gib(nvml_after)} "
            f"| {_gib(job.get('gpu_used_before_bytes'))} → {_gib(console_after)} "
            f"| {_pct(console_after, nvml_after)} |"
        )
    return rows


def memory_rows(jobs: list[dict[str, Any]]) -> list[str]:
    """Sleeps: NVML's drop against the log's "Sleep mode freed"; host shared memory's growth
    against what was backed up (pinned backups show as shared memory)."""
    rows = [
        "| job | log freed GiB | NVML freed GiB | diff | backed up GiB | host shared +GiB "
        "| ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in jobs:
        freed = _logged(entry, "sleep_freed", "freed_gib")
        before, after = entry.get("nvml_used_before"), entry.get("nvml_used_after")
        if freed is None or before is None or after is None or entry["job"]["kind"] != "sleep":
            continue
        nvml = (before - after) / GIB
        backed = _logged(entry, "cumem_freed", "backed_up_gib")
        grew = None
        if entry.get("host_shared_after") is not None and entry.get("host_shared_before"):
            grew = (entry["host_shared_after"] - entry["host_shared_before"]) / GIB
        ratio = f"{grew / backed:.2f}" if grew is not None and backed else "-"
        shared = "-" if grew is None else f"{grew:+.2f}"
        rows.append(
            f"| {entry['label']} | {freed:.2f} | {nvml:.2f} | {_pct(nvml, freed)} | {backed} "
            f"| {shared} | {ratio} |"
        )
    return rows


def switch_summary(jobs: list[dict[str, Any]]) -> str:
    added = [
        entry["added_ms_vs_engine_log"]
        for entry in jobs
        if entry["job"]["kind"] == "switch"
        and entry["job"]["state"] == "succeeded"
        and entry["engine_log_seconds"] > 0
        and entry.get("added_ms_vs_engine_log") is not None
    ]
    if not added:
        return "no switch with engine seconds"
    return (
        f"{len(added)} switches: console added {statistics.median(added):.0f} ms median "
        f"(min {min(added):.0f}, max {max(added):.0f}) over the engines' own seconds"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    data = json.loads(args.run.read_text())
    run = data.get("console", data)
    jobs = run["jobs"]
    if jobs and "nvml_used_after" not in jobs[0]:  # a result.json: summarise like fixtures.py
        from .fixtures import job_summary

        jobs = [job_summary(entry) for entry in jobs]
    print("\n".join(job_rows(jobs)))
    print()
    print("\n".join(memory_rows(jobs)))
    print()
    print(switch_summary(jobs))
    for held in run.get("gateway") or []:
        answers = [(a.get("stream"), a.get("status"), a.get("seconds")) for a in held["answers"]]
        print(f"- {held['label']}: {answers}")
    print(f"- idle ladder: {run.get('idle_ladder')}")
    kill = run.get("kill") or {}
    statuses = [(a.get("status"), a.get("seconds")) for a in kill.get("answers", [])]
    print(f"- kill: {statuses}, console state {kill.get('console_state_after')} "
          f"after {kill.get('error_state_after_s')} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
