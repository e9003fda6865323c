"""The switch, direct vs through the console, on the same demo engines in one run.

Starts ``manage.py up --demo`` in a temporary data dir (embedded Redis, SQLite, the
simulated 24 GiB GPU, ``demo-a`` and ``demo-b``: 8 GiB of weights and 6 GiB of KV cache
each, so only one can be awake), then alternates, for each scenario, rounds where the
engines are driven by hand ("direct": the engine calls a perfect console would make, back
to back, on kept-alive connections) and rounds where the console does it:

- ``held-l1``: a completion for the sleeping model (asleep at level 1) through ``/v1/``;
  direct: sleep the awake one (level 1), wake the other, the same completion.
- ``held-l2``: the same with the sleeping model asleep at level 2 (its wake reloads the
  weights); direct: sleep, wake weights, ``reload_weights``, wake KV cache, reset the prefix
  cache, the completion.
- ``api-switch``: ``POST /api/instances/<id>/switch/`` until the job says succeeded;
  direct: sleep + wake.
- ``sleep-job`` / ``wake-job``: ``POST .../sleep/`` (level 1) and ``.../wake/`` until the
  job says succeeded; direct: ``/sleep?level=1`` and ``/wake_up``.

A job is followed by polling ``/api/jobs/<id>/`` every 2 ms. A direct round puts the
engines back where they were (untimed), so the console's rows stay true; the reconcile loop
is off (it would take a sleep it did not see for level 2 on 0.11.0, which has no sleep-state
metric, and the next wake would reload weights). Prints p50/p95 of both, the added
milliseconds and the ratio, and for the jobs the console's own time after the engine call
returned (``finished_at`` minus the last call's end, both written by the worker). With
``--json FILE`` the figures are written there too.

    .venv/bin/python bench/switch.py --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["held-l1", "held-l2", "api-switch", "sleep-job", "wake-job"]
PROMPT = {"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0}


@dataclass
class Console:
    """A running ``manage.py up --demo`` and clients for its API and gateway."""

    url: str
    api: httpx.Client
    v1: httpx.Client
    engines: httpx.Client
    process: subprocess.Popen[bytes]
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)

    def refresh(self) -> None:
        rows = self.api.get("/api/instances/").raise_for_status().json()
        rows = rows.get("results", rows) if isinstance(rows, dict) else rows
        self.instances = {row["name"]: row for row in rows}

    def state(self, name: str) -> tuple[str, int | None]:
        row = self.instances[name]
        return row["state"], row.get("sleep_level")


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


def last_word(output: str) -> str:
    return [line for line in output.splitlines() if line.strip()][-1].split()[-1]


def start_console(port: int, data_dir: Path) -> Console:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    env.update(
        CONSOLE_DATA_DIR=str(data_dir),
        # Direct rounds put the engines back where they were: no reconcile needed (it would
        # take a sleep it did not see as level 2, 0.11.0 having no sleep-state metric).
        CONSOLE_RECONCILE_SECONDS="3600",
        CONSOLE_HOST_RAM_HEADROOM_GIB="0",
        PYTHONUNBUFFERED="1",
    )
    log = (data_dir / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--demo", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        return connect(process, port, data_dir, env)
    except BaseException:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)
        raise


def connect(
    process: subprocess.Popen[bytes], port: int, data_dir: Path, env: dict[str, str]
) -> Console:
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: "is up" in (data_dir / "up.log").read_text(errors="replace"), 120, "up")
    token = last_word(manage(env, "issue_token", "admin"))
    key = last_word(manage(env, "issue_inference_key", "bench"))
    console = Console(
        url=url,
        api=httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60),
        v1=httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120),
        engines=httpx.Client(timeout=60),
        process=process,
    )

    def demo_ready() -> bool:
        console.refresh()
        states = {name: row["state"] for name, row in console.instances.items()}
        return states == {"demo-a": "sleeping", "demo-b": "awake"}

    wait_for(demo_ready, 180, "the demo engines")
    return console


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, KeyError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready within {timeout:g} s")


def engine_state(console: Console, name: str) -> tuple[str, int | None]:
    """What the engine itself says: awake, or sleeping (level from the metric)."""
    base = console.instances[name]["base_url"]
    asleep = console.engines.get(f"{base}/is_sleeping").json()["is_sleeping"]
    return ("sleeping", None) if asleep else ("awake", None)


def settle(console: Console) -> None:
    """Wait until no job runs or gathers evidence, and every row agrees with its engine."""

    def agreed() -> bool:
        console.refresh()
        jobs = console.api.get("/api/jobs/").json()
        jobs = jobs.get("results", jobs) if isinstance(jobs, dict) else jobs
        # A job's evidence is gathered after it ends, its first-request probe included: a
        # direct round must not put the engine to sleep under that probe (vLLM 0.11 dies).
        busy = [j for j in jobs if j["state"] in ("queued", "running")
                or (j.get("outcome_detail") or {}).get("evidence") == "pending"]  # fmt: skip
        return not busy and all(
            console.state(name)[0] == engine_state(console, name)[0] for name in console.instances
        )

    wait_for(agreed, 30, "the rows to agree with the engines")


def awake_and_asleep(console: Console) -> tuple[str, str]:
    console.refresh()
    awake = [n for n in console.instances if console.state(n)[0] == "awake"]
    asleep = [n for n in console.instances if console.state(n)[0] == "sleeping"]
    if len(awake) != 1 or len(asleep) != 1:
        raise RuntimeError(f"expected one awake and one asleep: {console.instances}")
    return awake[0], asleep[0]


def post_engine(console: Console, name: str, path: str, **kwargs: Any) -> None:
    base = console.instances[name]["base_url"]
    console.engines.post(f"{base}{path}", **kwargs).raise_for_status()


def direct_completion(console: Console, name: str) -> None:
    row = console.instances[name]
    body = {"model": row["served_model_name"], **PROMPT}
    console.engines.post(f"{row['base_url']}/v1/completions", json=body).raise_for_status()


def direct_wake(console: Console, name: str, level: int | None) -> None:
    if level == 2:
        post_engine(console, name, "/wake_up", params={"tags": "weights"})
        post_engine(console, name, "/collective_rpc", json={"method": "reload_weights"})
        post_engine(console, name, "/wake_up", params={"tags": "kv_cache"})
        post_engine(console, name, "/reset_prefix_cache")
    else:
        post_engine(console, name, "/wake_up")


def run_job(console: Console, name: str, verb: str, body: dict[str, Any]) -> dict[str, Any]:
    pk = console.instances[name]["id"]
    response = console.api.post(f"/api/instances/{pk}/{verb}/", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"{verb} {name}: HTTP {response.status_code}: {response.text}")
    job: dict[str, Any] = response.json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.002)
        job = console.api.get(f"/api/jobs/{job['id']}/").raise_for_status().json()
    if job["state"] != "succeeded":
        raise RuntimeError(f"{verb} {name} {job['state']}: {job.get('error')}")
    return job


def tail_ms(job: dict[str, Any]) -> float | None:
    """The console's time between the last engine call's end and the job's end."""
    steps = (job.get("outcome_detail") or {}).get("steps") or []
    ends = [step["call_ended_at"] for step in steps if step.get("call_ended_at")]
    if not ends or not job.get("finished_at"):
        return None
    finished = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00"))
    return (finished - datetime.fromisoformat(max(ends))).total_seconds() * 1000


@dataclass
class Figures:
    direct: list[float] = field(default_factory=list)
    console: list[float] = field(default_factory=list)
    tails: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    segments: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        d, c = p(self.direct, 50), p(self.console, 50)
        return {
            "rounds": len(self.console),
            "direct_p50_ms": d, "direct_p95_ms": p(self.direct, 95),
            "console_p50_ms": c, "console_p95_ms": p(self.console, 95),
            "added_p50_ms": round(c - d, 1), "ratio_p50": round(c / d, 2),
            "after_call_p50_ms": p(self.tails, 50) if self.tails else None,
            "after_call_p95_ms": p(self.tails, 95) if self.tails else None,
            "errors": len(self.errors), "first_error": self.errors[0] if self.errors else None,
            "segments_p50_ms": {name: p([s[name] for s in self.segments], 50)
                                for name in (self.segments[0] if self.segments else {})},
        }  # fmt: skip


def p(values: list[float], pct: int) -> float:
    ordered = sorted(values) or [float("nan")]
    return round(ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))], 1)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def direct_switch(console: Console, completion: bool) -> float:
    """Put the awake engine to sleep (level 1) and wake the other (at the level the console
    knows it sleeps at), then a completion if asked: timed. Then put both back where they
    were, untimed, so the console's rows stay true without a reconcile."""
    awake, asleep = awake_and_asleep(console)
    level = console.state(asleep)[1]

    def by_hand() -> None:
        post_engine(console, awake, "/sleep", params={"level": 1})
        direct_wake(console, asleep, level)
        if completion:
            direct_completion(console, asleep)

    ms, _ = timed(by_hand)
    post_engine(console, asleep, "/sleep", params={"level": level})
    post_engine(console, awake, "/wake_up")
    settle(console)
    # The agent samples every second: let a sample taken after the restore be the newest,
    # so the console's next decision does not read one from behind its back.
    time.sleep(1.2)
    return ms


def put_other_at_level_two(console: Console) -> None:
    """Switch the two (untimed) so that the one then asleep sleeps at level 2."""
    _, asleep = awake_and_asleep(console)
    run_job(console, asleep, "switch", {"level": 2})
    settle(console)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def held_segments(console: Console, sent: datetime, answered: datetime) -> dict[str, float]:
    """Where a held request's time went, from the switch job's own timestamps (one clock:
    the bench, the web process and the worker run on this machine): the gateway asking for
    the job, the job waiting for a worker, the worker before each engine call, the calls,
    and from the last call's end to the answer (the completion itself included)."""
    jobs = console.api.get("/api/jobs/").raise_for_status().json()
    jobs = jobs.get("results", jobs) if isinstance(jobs, dict) else jobs
    job = next(j for j in jobs if j["kind"] == "switch" and instant(j["created_at"]) >= sent)
    first, second = ((job.get("outcome_detail") or {}).get("steps") or [{}, {}])[:2]

    def ms(later: datetime, earlier: datetime) -> float:
        return round((later - earlier).total_seconds() * 1000, 1)

    return {
        "ask": ms(instant(job["created_at"]), sent),
        "dispatch": ms(instant(job["started_at"]), instant(job["created_at"])),
        "before_first_call": ms(instant(first["started_at"]), instant(job["started_at"])),
        "first_call": round(first["call_seconds"] * 1000, 1),
        "between_calls": ms(instant(second["started_at"]), instant(first["call_ended_at"])),
        "second_call": round(second["call_seconds"] * 1000, 1),
        "to_answer": ms(answered, instant(second["call_ended_at"])),
    }


def held_round(console: Console, figures: Figures, level: int) -> None:
    if level == 2:
        put_other_at_level_two(console)
    _, asleep = awake_and_asleep(console)
    model = console.instances[asleep]["served_model_name"]
    sent = datetime.now(UTC)
    ms, _ = timed(lambda: console.v1.post("/v1/completions", json={"model": model, **PROMPT})
                  .raise_for_status())  # fmt: skip
    answered = datetime.now(UTC)
    figures.console.append(ms)
    figures.segments.append(held_segments(console, sent, answered))
    settle(console)
    if level == 2:
        put_other_at_level_two(console)
    figures.direct.append(direct_switch(console, completion=True))


def switch_round(console: Console, figures: Figures) -> None:
    _, asleep = awake_and_asleep(console)
    if console.state(asleep)[1] != 1:  # left at level 2 by the held-l2 round: swap (untimed)
        run_job(console, asleep, "switch", {"level": 1})
        settle(console)
        _, asleep = awake_and_asleep(console)
    try:
        ms, job = timed(lambda: run_job(console, asleep, "switch", {"level": 1}))
    except RuntimeError as failed:  # a finding, not the end of the run
        figures.errors.append(str(failed))
        settle(console)
        return
    figures.console.append(ms)
    if (tail := tail_ms(job)) is not None:  # type: ignore[arg-type]
        figures.tails.append(tail)
    settle(console)
    figures.direct.append(direct_switch(console, completion=False))


def sleep_wake_round(console: Console, sleeps: Figures, wakes: Figures) -> None:
    awake, _ = awake_and_asleep(console)
    for verb, body, figures in (("sleep", {"level": 1}, sleeps), ("wake", {}, wakes)):
        ms, job = timed(lambda v=verb, b=body: run_job(console, awake, v, b))  # type: ignore[misc]
        figures.console.append(ms)
        if (tail := tail_ms(job)) is not None:  # type: ignore[arg-type]
            figures.tails.append(tail)
    settle(console)
    for path, params, figures in (("/sleep", {"level": 1}, sleeps), ("/wake_up", {}, wakes)):
        ms, _ = timed(lambda a=path, q=params: post_engine(console, awake, a, params=q))  # type: ignore[misc]
        figures.direct.append(ms)
    settle(console)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIOS,
        default=SCENARIOS,
        help="run these scenarios only (sleep-job and wake-job run together)",
    )
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-switch-"))
    console = start_console(args.port, data_dir)
    results = {name: Figures() for name in SCENARIOS if name in args.only}
    try:
        # Untimed: each engine's first level-1 sleep pins its host buffers (0.6 s/GiB, seconds
        # for the demo's 8 GiB); every later one reuses them, by hand or through the console.
        for _ in range(2):
            run_job(console, awake_and_asleep(console)[1], "switch", {"level": 1})
            settle(console)
        for _ in range(args.rounds):
            if "held-l1" in results:
                held_round(console, results["held-l1"], level=1)
            if "held-l2" in results:
                held_round(console, results["held-l2"], level=2)
            if "api-switch" in results:
                switch_round(console, results["api-switch"])
            if "sleep-job" in results or "wake-job" in results:
                sleep_wake_round(console, results.setdefault("sleep-job", Figures()),
                                 results.setdefault("wake-job", Figures()))  # fmt: skip
    finally:
        os.killpg(console.process.pid, signal.SIGINT)
        console.process.wait(60)
    summary = {name: figures.summary() for name, figures in results.items()}
    print(f"{'scenario':<11} {'direct p50/p95 ms':>18} {'console p50/p95 ms':>19} "
          f"{'added p50':>9} {'ratio':>6} {'after call p50/p95':>19}")  # fmt: skip
    for name, s in summary.items():
        after = (f"{s['after_call_p50_ms']}/{s['after_call_p95_ms']}"
                 if s["after_call_p50_ms"] is not None else "-")  # fmt: skip
        print(f"{name:<11} {s['direct_p50_ms']:>9}/{s['direct_p95_ms']:<8} "
              f"{s['console_p50_ms']:>9}/{s['console_p95_ms']:<9} {s['added_p50_ms']:>9} "
              f"{s['ratio_p50']:>6} {after:>19}")  # fmt: skip
        if s["errors"]:
            print(f"{'':<11} {s['errors']} failed: {s['first_error']}")
        if s["segments_p50_ms"]:
            parts = ", ".join(f"{k} {v}" for k, v in s["segments_p50_ms"].items())
            print(f"{'':<11} p50 ms: {parts}")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "scenarios": summary}, indent=1))
    print(f"data dir (logs): {data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
