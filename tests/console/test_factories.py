"""The factories build valid, distinct rows with the relations and secrets tests rely on."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate

from console.models import InstanceState, JobState
from console.models.gateway import hash_key
from console.roles import Role, role_of
from tests.support.factories import (
    PASSWORD,
    GpuFactory,
    HostFactory,
    InferenceKeyFactory,
    InstanceFactory,
    JobFactory,
    MemorySampleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_users_get_distinct_names_the_password_and_the_role_asked_for() -> None:
    admin = UserFactory.create(role=Role.ADMIN)
    nobody = UserFactory.create()
    assert admin.username != nobody.username
    assert authenticate(username=admin.username, password=PASSWORD) == admin
    assert role_of(admin) is Role.ADMIN
    assert role_of(nobody) is None


def test_a_host_gets_its_gpus_numbered_from_zero() -> None:
    host = HostFactory.create(gpus=2)
    assert [(gpu.index, gpu.total_bytes) for gpu in host.gpus.all()] == [
        (0, 80 << 30),
        (1, 80 << 30),
    ]
    assert HostFactory.create(gpus=0).gpus.count() == 0


def test_an_instance_is_placed_on_the_gpus_given_and_starts_stopped() -> None:
    gpu = GpuFactory.create()
    first, second = InstanceFactory.create(gpus=[gpu]), InstanceFactory.create()
    assert list(first.gpus.all()) == [gpu]
    assert first.name != second.name
    assert first.base_url != second.base_url
    assert first.served_model_name == f"org/{first.name}"
    assert first.state == InstanceState.STOPPED


def test_a_job_and_a_sample_bring_their_own_parents() -> None:
    job = JobFactory.create(state=JobState.SUCCEEDED)
    sample = MemorySampleFactory.create(used_bytes=5)
    assert job.instance.pk is not None
    assert job.state == JobState.SUCCEEDED
    assert sample.gpu is not None
    assert sample.host == sample.gpu.host


def test_an_inference_key_stores_only_the_hash_of_the_key_given() -> None:
    key = "vlc-factorytestkey0123456789"
    row = InferenceKeyFactory.create(key=key)
    assert row.key_hash == hash_key(key)
    assert row.prefix == key[:12]
    assert key not in {row.name, row.prefix, row.key_hash}
    assert row.may_use("any/model")
