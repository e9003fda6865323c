"""Fit checks: the verdict and the numbers a refusal names."""

from __future__ import annotations

from typing import Any

import pytest

from console.jobs.fit import (
    GIB,
    GpuMemory,
    HostRam,
    check_host_ram_fits,
    check_wake_fits,
    estimate_pinned_bytes,
)
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


def ram(pinned_gib: float, available_gib: float, **fields: Any) -> HostRam:
    """30 GiB of weights whose backup pins ``pinned_gib``; 4 GiB promised, 4 GiB headroom."""
    values: dict[str, Any] = {"weights": 30 * GIB, "pinned": int(pinned_gib * GIB),
                              "measured": False, "available": int(available_gib * GIB),
                              "reserved": 4 * GIB, "headroom": 4 * GIB}  # fmt: skip
    return HostRam(**{**values, **fields})


def test_a_level_one_sleep_needs_its_pinned_backup_beyond_promises_and_headroom() -> None:
    assert not check_host_ram_fits("llama", ram(34.5, 42.4)).ok
    assert check_host_ram_fits("llama", ram(34.5, 42.5)).ok


def test_a_first_backup_is_estimated_at_the_factor_times_the_weights() -> None:
    assert estimate_pinned_bytes(30 * GIB, 1.15) == int(34.5 * GIB)
    assert estimate_pinned_bytes(0, 1.15) == 0


def test_an_estimated_backup_that_does_not_fit_is_refused_naming_the_numbers() -> None:
    verdict = check_host_ram_fits("llama", ram(34.5, 40))
    assert not verdict.ok
    assert verdict.reason == (
        "level-1 sleep of llama: a backup of 30.00 GiB of weights needs 34.50 GiB of pinned "
        "host RAM (estimated: PyTorch rounds each pinned allocation up to a power of two) but "
        "only 32.0 GiB can be spared (40.0 GiB available, 4.0 GiB promised to other sleeps, "
        "4.0 GiB headroom)"
    )


def test_a_measured_backup_says_so_and_what_is_pinned_already() -> None:
    verdict = check_host_ram_fits("llama", ram(34.2, 40, measured=True, held=2 * GIB))
    assert not verdict.ok
    assert (
        "needs 34.20 GiB of pinned host RAM (as measured at its last level-1 sleep; "
        "2.00 GiB of it pinned already) but only 32.0 GiB can be spared" in verdict.reason
    )


def test_what_the_engine_holds_from_an_earlier_sleep_is_not_asked_for_again() -> None:
    # Only 8 GiB to spare, but 34.5 of the 34.5 GiB are pinned already: nothing more needed.
    assert check_host_ram_fits("llama", ram(34.5, 16, measured=True, held=int(34.5 * GIB))).ok


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
