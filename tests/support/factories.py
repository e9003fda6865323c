"""factory_boy factories for the console's main rows.

``InstanceFactory.create(gpus=[gpu])``, ``HostFactory.create(gpus=2)``,
``UserFactory.create(role=Role.ADMIN)``, ``InferenceKeyFactory.create(key="vlc-...")``: every
unique field comes from a sequence, so tests that build many rows never collide. ``.create``
(typed) saves through the ORM; ``.build()`` gives an unsaved row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.utils import timezone
from factory.django import DjangoModelFactory

from console.models import (
    EngineEvent,
    Gpu,
    Host,
    InferenceKey,
    Instance,
    Job,
    JobKind,
    MemorySample,
    Subject,
)
from console.models.gateway import KEY_PREFIX, VISIBLE_CHARS, hash_key, new_key
from console.roles import Role, assign_role

PASSWORD = "correct-horse-battery-staple"
GPU_BYTES = 80 << 30


class UserFactory(DjangoModelFactory[User]):
    """A user with ``PASSWORD``; ``role=Role.OPERATOR`` puts it in that role's group."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.LazyFunction(lambda: make_password(PASSWORD))
    is_active = True

    @factory.post_generation
    def role(self, create: bool, extracted: Role | None, **kwargs: Any) -> None:
        if extracted is not None:
            assign_role(self, extracted)  # type: ignore[arg-type]


class HostFactory(DjangoModelFactory[Host]):
    """A host with ``gpus`` (default 1) 80 GiB GPUs numbered from 0."""

    class Meta:
        model = Host
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"gpu-host-{n}")

    @factory.post_generation
    def gpus(self, create: bool, extracted: int | None, **kwargs: Any) -> None:
        count = 1 if extracted is None else extracted
        for index in range(count if create else 0):
            GpuFactory.create(host=self, index=index)


class GpuFactory(DjangoModelFactory[Gpu]):
    class Meta:
        model = Gpu

    host: factory.SubFactory[Gpu, Host] = factory.SubFactory(HostFactory, gpus=0)
    index = factory.Sequence(lambda n: n)
    name = "NVIDIA H100"
    total_bytes = GPU_BYTES


class InstanceFactory(DjangoModelFactory[Instance]):
    """An instance with a unique name at a local URL; ``gpus=[gpu, ...]`` places it."""

    class Meta:
        model = Instance
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"model-{n}")
    served_model_name: factory.LazyAttribute[Instance, str] = factory.LazyAttribute(
        lambda row: f"org/{row.name}"
    )
    base_url = factory.Sequence(lambda n: f"http://127.0.0.1:{20000 + n}")

    @factory.post_generation
    def gpus(self, create: bool, extracted: Sequence[Gpu] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.gpus.set(extracted)  # type: ignore[attr-defined]


class JobFactory(DjangoModelFactory[Job]):
    """A queued sleep job (pass ``state``, ``kind``, figures as needed)."""

    class Meta:
        model = Job

    instance: factory.SubFactory[Job, Instance] = factory.SubFactory(InstanceFactory)
    kind = JobKind.SLEEP


class InferenceKeyFactory(DjangoModelFactory[InferenceKey]):
    """A gateway key for every model; pass ``key=`` to know the secret that it hashes."""

    class Meta:
        model = InferenceKey

    class Params:
        key = factory.LazyFunction(new_key)

    name = factory.Sequence(lambda n: f"key-{n}")
    prefix: factory.LazyAttribute[Any, str] = factory.LazyAttribute(
        lambda row: row.key[: len(KEY_PREFIX) + VISIBLE_CHARS]
    )
    key_hash: factory.LazyAttribute[Any, str] = factory.LazyAttribute(lambda row: hash_key(row.key))


class MemorySampleFactory(DjangoModelFactory[MemorySample]):
    """A raw GPU sample taken now."""

    class Meta:
        model = MemorySample

    at = factory.LazyFunction(timezone.now)
    subject = Subject.GPU
    gpu: factory.SubFactory[MemorySample, Gpu] = factory.SubFactory(GpuFactory)
    host: factory.SelfAttribute[MemorySample, Host] = factory.SelfAttribute("gpu.host")
    used_bytes = 0
    total_bytes = GPU_BYTES


class EngineEventFactory(DjangoModelFactory[EngineEvent]):
    class Meta:
        model = EngineEvent

    instance: factory.SubFactory[EngineEvent, Instance] = factory.SubFactory(InstanceFactory)
    kind = "sleep"
