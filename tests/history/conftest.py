"""Factories for memory samples and finished jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.models import Gpu, Host, Instance, MemorySample, Resolution
from tests.console.conftest import (  # noqa: F401  (fixtures shared with tests/console)
    admin,
    create_host,
    create_instance,
    fast_password_hashing,
    make_user,
    operator,
    session_client,
    token_client,
    viewer,
)
from tests.support.factories import MemorySampleFactory

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SampleFactory = Callable[..., MemorySample]


@pytest.fixture
def host(db: None) -> Host:
    return create_host(name="gpu-h", gpus=1)


@pytest.fixture
def gpu(host: Host) -> Gpu:
    return host.gpus.get()


@pytest.fixture
def instance(host: Host, gpu: Gpu) -> Instance:
    return create_instance(name="llama", host=host, gpus=[gpu])


@pytest.fixture
def other(host: Host, gpu: Gpu) -> Instance:
    """A second instance on the same GPU: switches between the two move both."""
    return create_instance(name="qwen", host=host, gpus=[gpu])


@pytest.fixture
def gpu_sample(gpu: Gpu) -> SampleFactory:
    """``gpu_sample(seconds_before_now, used, resolution=..., **fields)``."""

    def make(
        ago: float, used: int, resolution: str = Resolution.RAW, **fields: Any
    ) -> MemorySample:
        return MemorySampleFactory.create(
            at=NOW - timedelta(seconds=ago), resolution=resolution, gpu=gpu, used_bytes=used,
            total_bytes=100, **fields,
        )  # fmt: skip

    return make
