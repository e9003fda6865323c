"""Host-RAM figures for the level-1 fit check: estimated or measured backups, what an engine
holds from an earlier sleep, what sleeps in flight will pin."""

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
    """A host with 100 GiB of RAM, 10 GiB of it used, 4 GiB kept as headroom, and a first
    backup expected to pin 1.15 times the weights."""
    settings.CONSOLE_HOST_RAM_HEADROOM_GIB = 4.0
    settings.CONSOLE_PINNED_BACKUP_FACTOR = 1.15
    host = create_host(name="ram-host")
    MemorySample.objects.create(
        at=timezone.now(), subject=Subject.HOST, host=host, used_bytes=10 * GIB,
        total_bytes=100 * GIB,
    )  # fmt: skip
    return host


def falling_asleep(host: Host, weights_gib: float, **fields: Any) -> Instance:
    return create_instance(host=host, expected_weights_gib=weights_gib,
                           state=InstanceState.FALLING_ASLEEP, **fields)  # fmt: skip


def engine_rss(instance: Instance, gib: float) -> None:
    MemorySample.objects.create(at=timezone.now(), subject=Subject.INSTANCE, host=instance.host,
                                instance=instance, used_bytes=int(gib * GIB))  # fmt: skip


def test_a_first_backup_is_estimated_and_sleeps_in_flight_are_reserved(host: Host) -> None:
    falling_asleep(host, 20)  # estimated: 23 GiB
    falling_asleep(host, 10, pinned_backup_bytes=16 * GIB)  # measured before: 16 GiB
    instance = create_instance(host=host, expected_weights_gib=30)
    ram = host_ram_figures(instance)
    assert (ram.weights, ram.pinned, ram.measured) == (30 * GIB, int(34.5 * GIB), False)
    assert (ram.available, ram.reserved, ram.headroom, ram.held) == (
        90 * GIB, 23 * GIB + 16 * GIB, 4 * GIB, 0
    )  # fmt: skip
    # 90 - 39 - 4 = 47 GiB to spare: the estimated 34.5 fit.
    assert check_host_ram_fits(instance.name, ram).ok


def test_a_measured_backup_replaces_the_estimate(host: Host) -> None:
    instance = create_instance(host=host, expected_weights_gib=30, pinned_backup_bytes=33 * GIB)
    ram = host_ram_figures(instance)
    assert (ram.pinned, ram.measured) == (33 * GIB, True)


def test_an_engine_that_slept_before_holds_its_backup_and_needs_no_more(host: Host) -> None:
    # RSS 6 GiB before its first level-1 sleep, 40.5 GiB now: the 34.5 GiB pinned are kept.
    instance = create_instance(host=host, expected_weights_gib=30, pid=4242,
                               pinned_baseline_bytes=6 * GIB)  # fmt: skip
    falling_asleep(host, 60)  # 69 GiB promised: 90 - 69 - 4 leaves 17 GiB to spare
    engine_rss(instance, 40.5)
    ram = host_ram_figures(instance)
    assert ram.held == int(34.5 * GIB)
    assert check_host_ram_fits(instance.name, ram).ok
    engine_rss(instance, 16)  # had PyTorch given 24.5 GiB of it back: 24.5 more to pin
    ram = host_ram_figures(instance)
    assert ram.held == 10 * GIB
    verdict = check_host_ram_fits(instance.name, ram)
    assert not verdict.ok
    assert "10.00 GiB of it pinned already) but only 17.0 GiB can be spared" in verdict.reason


def test_a_new_process_forgets_what_the_old_one_pinned_but_not_the_measure(host: Host) -> None:
    instance = create_instance(host=host, expected_weights_gib=30, pid=4242,
                               pinned_baseline_bytes=6 * GIB, pinned_backup_bytes=33 * GIB,
                               state=InstanceState.AWAKE)  # fmt: skip
    engine_rss(instance, 39)
    transition(instance.pk, {InstanceState.AWAKE}, InstanceState.ERROR, pid=None)
    instance.refresh_from_db()
    assert instance.pinned_baseline_bytes is None
    ram = host_ram_figures(instance)
    assert (ram.held, ram.pinned, ram.measured) == (0, 33 * GIB, True)


def test_a_host_no_agent_reported_is_not_checked(db: None) -> None:
    instance = create_instance(host=create_host(name="silent"), expected_weights_gib=30)
    assert check_host_ram_fits(instance.name, host_ram_figures(instance)).ok
