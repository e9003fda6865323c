"""Host-RAM figures for the level-1 fit check, read from the rows and the newest host sample."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from console.jobs.capacity import host_ram_figures
from console.jobs.fit import GIB, check_host_ram_fits
from console.models import Host, Instance, InstanceState, MemorySample, Subject, transition
from tests.console.conftest import create_host, create_instance


@pytest.fixture
def host(db: None, settings: Any) -> Host:
    """A host with 100 GiB of RAM, 10 GiB of it used, and 4 GiB kept as headroom."""
    settings.CONSOLE_HOST_RAM_HEADROOM_GIB = 4.0
    host = create_host(name="ram-host")
    MemorySample.objects.create(
        at=timezone.now(), subject=Subject.HOST, host=host, used_bytes=10 * GIB,
        total_bytes=100 * GIB,
    )  # fmt: skip
    return host


def falling_asleep(host: Host, weights_gib: float) -> Instance:
    return create_instance(
        host=host, expected_weights_gib=weights_gib, state=InstanceState.FALLING_ASLEEP
    )


def test_a_sleep_in_flight_reserves_its_backup_rounded_as_pinned(host: Host) -> None:
    falling_asleep(host, 3)
    falling_asleep(host, 17)
    instance = create_instance(host=host, expected_weights_gib=30)

    assert host_ram_figures(instance) == (30 * GIB, 90 * GIB, (4 + 32) * GIB, 4 * GIB, 0)


def test_a_sleep_refused_only_because_of_rounding_names_both_backup_figures(host: Host) -> None:
    falling_asleep(host, 50)  # pins 64 GiB: 90 - 64 - 4 leaves 22 GiB
    instance = create_instance(host=host, expected_weights_gib=20)

    verdict = check_host_ram_fits(instance.name, *host_ram_figures(instance))

    assert not verdict.ok
    assert "a backup of 20.00 GiB of weights needs 32.00 GiB of pinned host RAM" in verdict.reason
    assert "only 22.0 GiB can be spared" in verdict.reason


def engine_rss(instance: Instance, gib: float) -> None:
    MemorySample.objects.create(at=timezone.now(), subject=Subject.INSTANCE, host=instance.host,
                                instance=instance, used_bytes=int(gib * GIB))  # fmt: skip


def test_an_engine_that_slept_before_holds_its_pinned_backup_and_needs_no_more(
    host: Host,
) -> None:
    # RSS 6 GiB before its first level-1 sleep, 38 GiB now: the 32 GiB pinned then are kept.
    instance = create_instance(host=host, expected_weights_gib=30, pid=4242,
                               pinned_baseline_bytes=6 * GIB)  # fmt: skip
    engine_rss(instance, 38)
    figures = host_ram_figures(instance)
    assert figures[-1] == 32 * GIB
    # The host has only 20 GiB to spare: a first sleep would be refused, this one is not.
    assert check_host_ram_fits(instance.name, 30 * GIB, 24 * GIB, 0, 4 * GIB, figures[-1]).ok
    refused = check_host_ram_fits(instance.name, 30 * GIB, 24 * GIB, 0, 4 * GIB, 0)
    assert not refused.ok


def test_a_partly_kept_backup_counts_for_what_it_holds(host: Host) -> None:
    instance = create_instance(host=host, expected_weights_gib=30, pid=4242,
                               pinned_baseline_bytes=6 * GIB)  # fmt: skip
    engine_rss(instance, 16)  # 10 GiB of the 32 still held: 22 more to pin
    verdict = check_host_ram_fits(instance.name, 30 * GIB, 24 * GIB, 0, 4 * GIB, 10 * GIB)
    assert not verdict.ok
    assert (
        "needs 32.00 GiB of pinned host RAM (PyTorch rounds pinned allocations up to a "
        "power of two, 10.00 GiB of it pinned already) but only 20.0 GiB can be spared"
        in verdict.reason
    )
    assert host_ram_figures(instance)[-1] == 10 * GIB


def test_a_new_process_forgets_what_the_old_one_pinned(host: Host) -> None:
    instance = create_instance(host=host, expected_weights_gib=30, pid=4242,
                               pinned_baseline_bytes=6 * GIB,
                               state=InstanceState.AWAKE)  # fmt: skip
    engine_rss(instance, 38)
    transition(instance.pk, {InstanceState.AWAKE}, InstanceState.ERROR, pid=None)
    instance.refresh_from_db()
    assert instance.pinned_baseline_bytes is None
    assert host_ram_figures(instance)[-1] == 0
