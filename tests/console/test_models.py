"""Hosts, samples and events: the rules the database holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from console.models import Gpu, Host, MemorySample, Subject


def test_host_is_online_only_while_heartbeats_are_fresh() -> None:
    now = timezone.now()
    assert Host(last_heartbeat=now - timedelta(seconds=10)).is_online(now)
    assert not Host(last_heartbeat=now - timedelta(minutes=2)).is_online(now)
    assert not Host(last_heartbeat=None).is_online(now)


def test_gpu_index_is_unique_per_host(make_host: Callable[..., Host]) -> None:
    host = make_host(gpus=1)
    with pytest.raises(IntegrityError):
        Gpu.objects.create(host=host, index=0)


def test_sample_must_name_the_subject_it_measures(make_host: Callable[..., Host]) -> None:
    host = make_host(gpus=0)
    MemorySample.objects.create(at=timezone.now(), subject=Subject.HOST, host=host, used_bytes=1)
    with pytest.raises(IntegrityError):
        MemorySample.objects.create(at=timezone.now(), subject=Subject.GPU, host=host, used_bytes=1)
