"""Host-RAM figures for the level-1 fit check, read from the rows and the newest host sample."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from console.jobs.capacity import host_ram_figures
from console.jobs.fit import GIB, check_host_ram_fits
from console.models import Host, Instance, InstanceState, MemorySample, Subject
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

    assert host_ram_figures(instance) == (30 * GIB, 90 * GIB, (4 + 32) * GIB, 4 * GIB)


def test_a_sleep_refused_only_because_of_rounding_names_both_backup_figures(host: Host) -> None:
    falling_asleep(host, 50)  # pins 64 GiB: 90 - 64 - 4 leaves 22 GiB
    instance = create_instance(host=host, expected_weights_gib=20)

    verdict = check_host_ram_fits(instance.name, *host_ram_figures(instance))

    assert not verdict.ok
    assert "a backup of 20.00 GiB of weights needs 32.00 GiB of pinned host RAM" in verdict.reason
    assert "only 22.0 GiB can be spared" in verdict.reason
