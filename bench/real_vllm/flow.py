"""The console phase: two engines driven through the console's REST API and ``/v1/``.

Every job is recorded with the console's figures (the job row), the engine's own (its log
lines written during the job), NVML and host RAM before and after, and the driver's wall
time from the POST to the job seen finished.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engines.probes import GpuProbe

from .console import RunningConsole, local_gpu, wait_state
from .probes import (
    LogCursor,
    engine_seconds,
    events,
    gpu_snapshot,
    gpu_used,
    host_snapshot,
    reload_seconds,
    wait_for,
)

PROMPT = "w11 w12 w13 w14"
SLEEP_LINES = ("to fall asleep", "Sleep mode freed", "CuMemAllocator: sleep freed")
WAKE_LINES = ("to wake up", "weights took", "Reloading weights")


def _logged(line: str) -> bool:
    """A line worth keeping with its job: not the periodic stats, not a tqdm bar."""
    bare_prefix = re.match(r"^\([^()]* pid=\d+\)\s*$", line) is not None
    return "throughput" not in line and "Completed |" not in line and not bare_prefix


def _of_kind(line: str, verb: str) -> bool:
    """Whether an engine line belongs to a job of this kind (a shared window's split)."""
    if verb == "sleep":
        return any(text in line for text in SLEEP_LINES)
    if verb == "wake":
        return any(text in line for text in WAKE_LINES)
    return True


@dataclass(frozen=True)
class EngineDef:
    """One instance to register: its name, model and launch spec."""

    name: str
    served: str
    model: str
    port: int
    executable: str
    args: list[str]
    env: dict[str, str]
    utilization: float
    weights_gib: float
    kv_cache_gib: float


@dataclass
class Flow:
    """The scenario's state and its record."""

    console: RunningConsole
    probe: GpuProbe
    launch_timeout: float
    ids: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, LogCursor] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def note(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", flush=True)

    # --- setup --------------------------------------------------------------------------

    def register(self, engines: list[EngineDef]) -> None:
        host_id, gpu_id = local_gpu(self.console)
        for engine in engines:
            body = {
                "name": engine.name, "served_model_name": engine.served,
                "base_url": f"http://127.0.0.1:{engine.port}", "host": host_id,
                "gpus": [gpu_id], "launch_executable": engine.executable,
                "launch_model": engine.model, "launch_args": engine.args,
                "launch_env": engine.env, "gpu_memory_utilization": engine.utilization,
                "expected_weights_gib": engine.weights_gib,
                "expected_kv_cache_gib": engine.kv_cache_gib,
            }  # fmt: skip
            response = self.console.api.post("/api/instances/", json=body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"register {engine.name}: {response.status_code} {response.text}"
                )
            self.ids[engine.name] = int(response.json()["id"])

    def cursor(self, name: str) -> LogCursor | None:
        if name not in self.cursors:
            path = self.console.instance(self.ids[name]).get("log_path")
            if not path:
                return None
            self.cursors[name] = LogCursor(Path(path))
        return self.cursors[name]

    def new_lines(self) -> dict[str, list[str]]:
        time.sleep(0.3)  # engine-core lines come from another process
        found = {}
        for name in self.ids:
            cursor = self.cursor(name)
            if cursor is not None:
                found[name] = cursor.read_new()
        return found

    # --- one job ------------------------------------------------------------------------

    def job(
        self, label: str, name: str, verb: str, body: dict[str, Any], timeout: float = 120
    ) -> dict[str, Any]:
        """POST the job, wait for it, and record everything about it."""
        self.new_lines()
        before = {"gpu": gpu_snapshot(self.probe), "host": host_snapshot()}
        posted = time.perf_counter()
        job = self.console.post_job(self.ids[name], verb, body)
        done = self.console.wait_job(job["id"], timeout)
        driver_seconds = time.perf_counter() - posted
        after = {"gpu": gpu_snapshot(self.probe), "host": host_snapshot()}
        self.record_job(label, name, verb, body, done, driver_seconds, before, after)
        self.note(f"{label}: {done['state']} in {driver_seconds:.3f} s {done.get('error') or ''}")
        return done

    def record_job(
        self, label: str, name: str, verb: str, body: dict[str, Any], job: dict[str, Any],
        driver_seconds: float | None, before: dict[str, Any], after: dict[str, Any],
        lines: dict[str, list[str]] | None = None,
    ) -> None:  # fmt: skip
        """``lines``: the engine lines of a window shared by several jobs (the idle ladder's);
        each job then keeps the events of its own kind (a sleep's, a wake's)."""
        shared = lines is not None
        lines = lines if lines is not None else self.new_lines()
        if shared:
            lines = {
                engine: [line for line in text if _of_kind(line, verb)]
                for engine, text in lines.items()
            }
        found = {engine: events(text) for engine, text in lines.items()}
        own = sum(engine_seconds(e) for e in found.values())
        if verb != "launch":
            own += sum(reload_seconds(text) for text in lines.values())
        wall = job.get("wall_seconds")
        entry = {
            "label": label, "instance": name, "verb": verb, "body": body, "job": job,
            "driver_seconds": round(driver_seconds, 4) if driver_seconds is not None else None,
            "engine_events": found, "engine_log_seconds": round(own, 6),
            "engine_log_lines": {
                engine: [line[:400] for line in text if _logged(line)][:80]
                for engine, text in lines.items()
            },
            "added_ms_vs_engine_log": round((wall - own) * 1000, 1) if wall else None,
            "driver_added_ms_vs_engine_log": (
                round((driver_seconds - own) * 1000, 1) if driver_seconds is not None else None
            ),
            "before": before, "after": after,
        }  # fmt: skip
        self.jobs.append(entry)

    # --- gateway ------------------------------------------------------------------------

    def completions(self, model: str, streams: list[bool]) -> list[dict[str, Any]]:
        """Completions for ``model`` through ``/v1/``, all at once; their outcomes."""
        results: list[dict[str, Any]] = [{} for _ in streams]
        threads = [
            threading.Thread(target=self._completion, args=(model, stream, results[i]))
            for i, stream in enumerate(streams)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=400)
        return results

    def _completion(self, model: str, stream: bool, out: dict[str, Any]) -> None:
        body = {"model": model, "prompt": PROMPT, "max_tokens": 8, "stream": stream}
        out["stream"] = stream
        out["sent_at"] = round(time.monotonic() - self.started, 3)
        started = time.perf_counter()
        try:
            with httpx.Client(base_url=self.console.url, timeout=400) as client:
                response = client.post(
                    "/v1/completions", json=body, headers=self.console.v1_headers
                )
                out["status"] = response.status_code
                out["body_start"] = response.text[:300]
                out["sse_done"] = stream and "data: [DONE]" in response.text
        except httpx.HTTPError as error:
            out["error"] = f"{type(error).__name__}: {error}"
        out["seconds"] = round(time.perf_counter() - started, 4)

    def jobs_since(self, name: str, after_id: int) -> list[dict[str, Any]]:
        rows = self.console.rows("/api/jobs/", instance=self.ids[name])
        return sorted((r for r in rows if r["id"] > after_id), key=lambda r: r["id"])

    def last_job_id(self) -> int:
        rows = self.console.rows("/api/jobs/")
        return max((int(r["id"]) for r in rows), default=0)

    def held(self, label: str, model_of: str, streams: list[bool]) -> dict[str, Any]:
        """Requests for a sleeping model: held, the activation it caused, the answers."""
        self.new_lines()
        first = self.last_job_id()
        before = {"gpu": gpu_snapshot(self.probe), "host": host_snapshot()}
        served = self.served(model_of)
        answers = self.completions(served, streams)
        after = {"gpu": gpu_snapshot(self.probe), "host": host_snapshot()}
        caused = [job for name in self.ids for job in self.jobs_since(name, first)]
        for job in caused:
            self.console.wait_job(job["id"], 120)
        caused = [job for name in self.ids for job in self.jobs_since(name, first)]
        for job in caused:
            self.record_job(f"{label}:job{job['id']}", self.name_of(job["instance"]), job["kind"],
                            job["params"], job, None, before, after)  # fmt: skip
        entry = {"label": label, "model": served, "answers": answers,
                 "jobs": [job["id"] for job in caused]}  # fmt: skip
        self.note(f"{label}: {[a.get('status') for a in answers]} "
                  f"in {[a.get('seconds') for a in answers]} s")  # fmt: skip
        return entry

    def served(self, name: str) -> str:
        return str(self.console.instance(self.ids[name])["served_model_name"])

    def name_of(self, pk: int) -> str:
        return next(name for name, known in self.ids.items() if known == pk)

    # --- the scenario -------------------------------------------------------------------

    def run(self, a: str, b: str, idle: tuple[int, int]) -> dict[str, Any]:
        self.record["nvml_start"] = gpu_snapshot(self.probe)
        self.record["host_start"] = host_snapshot()
        wall_started = time.monotonic()
        self.job("launch A", a, "launch", {}, timeout=self.launch_timeout)
        self.job("sleep A level 1 (first: pins)", a, "sleep", {"level": 1})
        self.job("launch B while A sleeps", b, "launch", {}, timeout=self.launch_timeout)
        self.job("sleep B level 1 (first: pins)", b, "sleep", {"level": 1})
        self.job("wake B level 1", b, "wake", {})
        for i, target in enumerate([a, b, a, b, a], start=1):
            self.job(f"switch {i} to {target}", target, "switch", {"level": 1})
        self.job("sleep A level 2", a, "sleep", {"level": 2})
        self.job("wake A from level 2 (reload)", a, "wake", {}, timeout=300)
        gateway = [self.held("held for B (asleep level 1), plain + stream", b, [False, True])]
        gateway.append(self.held("held for A (asleep level 1), plain + stream", a, [False, True]))
        self.record["idle_ladder"] = self.idle_ladder(a, idle)
        gateway.append(self.held("held for A (asleep level 2 by idle)", a, [False, True]))
        self.record["gateway"] = gateway
        self.record["kill"] = self.kill_while_held(b)
        self.record["flow_wall_seconds"] = round(time.monotonic() - wall_started, 3)
        self.record["nvml_end"] = gpu_snapshot(self.probe)
        self.record["host_end"] = host_snapshot()
        self.record["instances_end"] = {n: self.console.instance(pk) for n, pk in self.ids.items()}
        self.refresh_jobs()
        self.record["jobs"] = self.jobs
        try:
            self.record["timings"] = {
                name: self.console.get("/api/history/timings/", instance=pk)
                for name, pk in self.ids.items()
            }
        except httpx.HTTPError as error:
            self.record["timings"] = {"error": str(error)}
        return self.record

    def refresh_jobs(self) -> None:
        """Jobs as they end up: the evidence (log figures, GPU samples) is attached after."""
        time.sleep(4)
        for entry in self.jobs:
            job = self.console.get(f"/api/jobs/{entry['job']['id']}/")
            entry["job"] = job
            wall = job.get("wall_seconds")
            own = entry["engine_log_seconds"]
            entry["added_ms_vs_engine_log"] = round((wall - own) * 1000, 1) if wall else None

    def idle_ladder(self, name: str, idle: tuple[int, int]) -> dict[str, Any]:
        """Short T1/T2 on an awake instance: level 1 after T1, level 2 after T2 more."""
        pk, (t1, t2) = self.ids[name], idle
        first = self.last_job_id()
        start = time.monotonic()
        self.console.api.patch(
            f"/api/instances/{pk}/", json={"idle_sleep_l1_seconds": t1, "idle_sleep_l2_seconds": t2}
        ).raise_for_status()
        _, at_l1 = wait_state(self.console, pk, {"sleeping"}, t1 + 60, level=1)
        first_lines = self.new_lines()
        first_jobs = {job["id"] for job in self.jobs_since(name, first)}
        _, at_l2 = wait_state(self.console, pk, {"sleeping"}, t1 + t2 + 120, level=2)
        self.console.api.patch(
            f"/api/instances/{pk}/", json={"idle_sleep_l1_seconds": None,
                                           "idle_sleep_l2_seconds": None},
        ).raise_for_status()  # fmt: skip
        later_lines = self.new_lines()
        caused = self.jobs_since(name, first)
        for job in caused:
            window = first_lines if job["id"] in first_jobs else later_lines
            self.record_job(f"idle:job{job['id']}", name, job["kind"], job["params"], job,
                            None, {}, {}, lines=window)  # fmt: skip
        result = {
            "t1": t1, "t2": t2, "level1_after_s": round(at_l1 - start, 2),
            "level2_after_s": round(at_l2 - start, 2), "jobs": [j["id"] for j in caused],
        }  # fmt: skip
        self.note(f"idle ladder: {result}")
        return result

    def kill_while_held(self, name: str) -> dict[str, Any]:
        """Requests held for ``name`` while it is woken; SIGKILL its engine meanwhile."""
        pk = self.ids[name]
        row = self.console.instance(pk)
        pid = row["pid"]
        first = self.last_job_id()
        served = str(row["served_model_name"])
        results: list[dict[str, Any]] = []
        thread = threading.Thread(
            target=lambda: results.extend(self.completions(served, [False, True, False, True]))
        )
        thread.start()

        def activation_started() -> bool:
            return any(job["instance"] == pk for job in self.jobs_since(name, first))

        wait_for(activation_started, 30, "the activation job", interval=0.01)
        killed_state = self.console.instance(pk)["state"]
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        self.note(f"SIGKILL {name} pid {pid} (console state {killed_state})")
        thread.join(timeout=400)
        row, errored_at = wait_state(self.console, pk, {"error", "stopped"}, 60)
        time.sleep(5)
        return {
            "pid": pid, "state_when_killed": killed_state, "answers": results,
            "console_state_after": row["state"], "state_detail": row.get("state_detail"),
            "error_state_after_s": round(errored_at - killed_at, 2),
            "jobs": self.jobs_since(name, first), "nvml_5s_after": gpu_snapshot(self.probe),
            "gpu_used_after": gpu_used(self.probe),
        }  # fmt: skip
