"""Fit checks: the verdict and the numbers a refusal names."""

from __future__ import annotations

from console.jobs.fit import GIB, GpuMemory, check_host_ram_fits, check_wake_fits


def test_a_wake_that_fits_is_allowed() -> None:
    gpus = [GpuMemory(0, total_bytes=80 * GIB, used_bytes=10 * GIB)]
    assert check_wake_fits("llama", 60 * GIB, gpus).ok


def test_a_wake_that_does_not_fit_names_the_gpu_and_the_figures() -> None:
    gpus = [
        GpuMemory(0, 80 * GIB, 10 * GIB),
        GpuMemory(1, 80 * GIB, 50 * GIB, reserved_bytes=5 * GIB),
    ]
    verdict = check_wake_fits("llama", 30 * GIB, gpus)
    assert not verdict.ok
    assert verdict.reason == (
        "llama needs 30.0 GiB on GPU 1 but only 25.0 GiB is free "
        "(80.0 GiB total, 50.0 GiB used, 5.0 GiB promised to wakes in flight)"
    )


def test_memory_promised_to_wakes_in_flight_counts_as_taken() -> None:
    gpus = [GpuMemory(0, 24 * GIB, 2 * GIB, reserved_bytes=14 * GIB)]
    assert not check_wake_fits("qwen", 14 * GIB, gpus).ok
    assert check_wake_fits("qwen", 8 * GIB, gpus).ok


def test_without_readings_a_wake_is_not_blocked() -> None:
    verdict = check_wake_fits("llama", 30 * GIB, [])
    assert verdict.ok
    assert "not checked" in verdict.reason


def test_a_level_one_sleep_needs_host_ram_beyond_the_headroom() -> None:
    verdict = check_host_ram_fits("llama", 75 * GIB, 100 * GIB, 20 * GIB, 8 * GIB)
    assert not verdict.ok
    assert verdict.reason == (
        "level-1 sleep of llama needs 75.0 GiB of host RAM for its weights but only 72.0 GiB "
        "can be spared (100.0 GiB available, 20.0 GiB promised to other sleeps, 8.0 GiB headroom)"
    )
    assert check_host_ram_fits("llama", 75 * GIB, 120 * GIB, 20 * GIB, 8 * GIB).ok
