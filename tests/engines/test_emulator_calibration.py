"""The 0.25 timing model against a real vLLM 0.25.0 on an H200: each figure within 30%.

Real seconds are the engine's own log lines in the fixtures (the raw transcript, and the
console run for ``reload_weights`` of a model with real weights); the emulator's are what
its simulated backend waits, computed from the same ``Physics`` and memory plan it uses
with the real run's flags. Computed rather than timed, so a loaded CI machine cannot move
them.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from emulator.config import parse_config
from emulator.physics import GIB, MemoryPlan, Physics, plan_memory
from tests.engines.real_vllm import EMULATOR_ARGS, FIXTURES, load, real_steps

TOLERANCE = 0.30
REAL = real_steps()
# The real run's flags at real time (the conformance replay runs them twenty times faster).
ARGS = [arg for arg in EMULATOR_ARGS if arg not in ("--time-scale", "0.05")]
CONFIG = parse_config(["serve", "emu/raw", *ARGS, "--emulate-version", "0.25.0"], env={})
PHYSICS = Physics.from_config(CONFIG)
PLAN = plan_memory(CONFIG, int(CONFIG.gpu_total_gib * GIB))

Model = Callable[[Physics, MemoryPlan], float]


def _resident(plan: MemoryPlan) -> int:
    return plan.weights + plan.kv_cache


MODEL: dict[str, Model] = {
    "first level-1 sleep": lambda p, m: (
        p.pin_alloc(m.weights) + p.device_to_host(m.weights) + p.unmap(_resident(m))
    ),
    "level-1 sleep": lambda p, m: p.device_to_host(m.weights) + p.unmap(_resident(m)),
    "level-2 sleep": lambda p, m: p.unmap(_resident(m)),
    "level-1 wake": lambda p, m: (
        p.map("weights", m.weights) + p.host_to_device(m.weights) + p.map("kv_cache", m.kv_cache)
    ),
    "weights-only wake after level 1": lambda p, m: (
        p.map("weights", m.weights) + p.host_to_device(m.weights)
    ),
    "weights-only wake after level 2": lambda p, m: p.map("weights", m.weights),
    "KV-cache-only wake": lambda p, m: p.map("kv_cache", m.kv_cache),
}
# The real steps whose engine-logged seconds each figure is compared with (their median).
REAL_STEPS = {
    "first level-1 sleep": ["sleep_l1_first"],
    "level-1 sleep": ["sleep_l1_second", "sleep_json_body_l2"],
    "level-2 sleep": ["sleep_l2"],
    "level-1 wake": ["wake_with_held", "wake_after_json_body"],
    "weights-only wake after level 1": ["wake_weights_after_l1"],
    "weights-only wake after level 2": ["wake_weights_after_l2"],
    "KV-cache-only wake": ["wake_kv_after_l1", "wake_kv_after_l2"],
}


def real_seconds(steps: list[str]) -> float:
    logged: list[float] = [
        float(event["seconds"])
        for name in steps
        for event in REAL[name]["events"]
        if event["event"] in ("sleep", "wake")
    ]
    assert len(logged) == len(steps), f"one sleep or wake line per step: {steps}"
    return statistics.median(logged)


@pytest.mark.parametrize("figure", list(MODEL))
def test_emulated_seconds_are_within_30_percent_of_the_real_engines(figure: str) -> None:
    real = real_seconds(REAL_STEPS[figure])
    emulated = MODEL[figure](PHYSICS, PLAN)
    assert emulated == pytest.approx(real, rel=TOLERANCE), f"{figure}: {emulated:.3f} vs {real}"


def test_first_pinning_rate_is_within_30_percent_of_the_real_engines() -> None:
    """The first level-1 sleep's extra time over a later one, per GiB backed up."""
    backed_up = REAL["sleep_l1_first"]["events"][0]["backed_up_gib"]
    extra = real_seconds(["sleep_l1_first"]) - real_seconds(REAL_STEPS["level-1 sleep"])
    assert PHYSICS.pin_alloc(GIB) == pytest.approx(extra / backed_up, rel=TOLERANCE)


def test_reload_weights_per_gib_is_within_30_percent_of_the_real_engines() -> None:
    """A level-2 wake of the model with real weights, driven by the console on the H200."""
    run = load("console-run.json")
    logs = (FIXTURES / "engine-logs.txt").read_text().splitlines()
    reloads = [
        float(line.split(" took ")[1].split(" seconds")[0])
        for line in logs
        if "Reloading and processing weights took" in line
    ]
    assert reloads, "the console run reloaded weights at least once"
    loaded = next(e["gib"] for e in run["model_loaded"] if e["instance"] == "real-a")
    real_per_gib = statistics.median(reloads) / loaded
    assert PHYSICS.disk_read(GIB) == pytest.approx(real_per_gib, rel=TOLERANCE)


def test_asleep_the_emulator_keeps_what_the_real_engine_kept_on_the_gpu() -> None:
    still = [
        e["still_in_use_gib"]
        for e in REAL["sleep_l1_second"]["events"]
        if e.get("still_in_use_gib")
    ]
    assert CONFIG.overhead_gib == pytest.approx(still[0], rel=0.05)
