"""Fit checks: the verdict and the numbers a refusal names."""

from __future__ import annotations

import pytest

from console.jobs.fit import GIB, GpuMemory, check_host_ram_fits, check_wake_fits
from engines.hostmem import pinned_bytes


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
    # 64 GiB pins exactly 64 GiB: available - promised - headroom must reach it.
    assert not check_host_ram_fits("llama", 64 * GIB, 91 * GIB, 20 * GIB, 8 * GIB).ok
    assert check_host_ram_fits("llama", 64 * GIB, 92 * GIB, 20 * GIB, 8 * GIB).ok


@pytest.mark.parametrize("nbytes", [1, 2, 4096, GIB, 32 * GIB, 1 << 40])
def test_pinning_an_exact_power_of_two_takes_just_that(nbytes: int) -> None:
    assert pinned_bytes(nbytes) == nbytes


@pytest.mark.parametrize(
    ("nbytes", "pinned"),
    [(3, 4), (4097, 8192), (GIB + 1, 2 * GIB), (30 * GIB, 32 * GIB), (32 * GIB + 1, 64 * GIB)],
)
def test_pinning_rounds_up_to_the_next_power_of_two(nbytes: int, pinned: int) -> None:
    assert pinned_bytes(nbytes) == pinned


def test_pinning_nothing_takes_no_host_ram() -> None:
    assert pinned_bytes(0) == 0


def test_a_negative_byte_count_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="negative"):
        pinned_bytes(-1)


def test_a_backup_that_fits_only_unrounded_is_refused_naming_both_figures() -> None:
    # 31 GiB can be spared: enough for 30 GiB of weights, not for the 32 GiB pinned.
    verdict = check_host_ram_fits("llama", 30 * GIB, 39 * GIB, 4 * GIB, 4 * GIB)
    assert not verdict.ok
    assert verdict.reason == (
        "level-1 sleep of llama: a backup of 30.00 GiB of weights needs 32.00 GiB of pinned "
        "host RAM (PyTorch rounds pinned allocations up to a power of two) but only 31.0 GiB "
        "can be spared (39.0 GiB available, 4.0 GiB promised to other sleeps, 4.0 GiB headroom)"
    )


def test_a_backup_whose_rounded_size_just_fits_is_allowed() -> None:
    assert check_host_ram_fits("llama", 30 * GIB, 40 * GIB, 4 * GIB, 4 * GIB).ok
