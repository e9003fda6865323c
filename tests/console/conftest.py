"""Users per role, API clients, and factories for the console's rows (reusable by any test
package: ``from tests.console.conftest import ...`` or as fixtures under tests/console)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.api.tokens import new_token
from console.models import Gpu, Host, Instance, Job, JobKind
from console.roles import Role, assign_role

PASSWORD = "correct-horse-battery-staple"
_serial = count(1)

UserFactory = Callable[..., User]
ClientFactory = Callable[[User | None], APIClient]


def create_user(
    role: Role | None = Role.VIEWER, *, username: str = "", active: bool = True
) -> User:
    """A user with ``role`` (None: no role group) and the password ``PASSWORD``."""
    user = User.objects.create_user(
        username=username or f"user{next(_serial)}", password=PASSWORD, is_active=active
    )
    if role is not None:
        assign_role(user, role)
    return user


def create_instance(**fields: Any) -> Instance:
    """An instance with a unique name, registered against a local URL."""
    number = next(_serial)
    defaults: dict[str, Any] = {
        "name": f"model-{number}",
        "served_model_name": f"org/model-{number}",
        "base_url": f"http://127.0.0.1:{8000 + number}",
    }
    gpus = fields.pop("gpus", [])
    instance = Instance.objects.create(**{**defaults, **fields})
    instance.gpus.set(gpus)
    return instance


def create_host(name: str = "", gpus: int = 1, **fields: Any) -> Host:
    """A host with ``gpus`` 80 GiB GPUs numbered from 0."""
    host = Host.objects.create(name=name or f"gpu-host-{next(_serial)}", **fields)
    for index in range(gpus):
        Gpu.objects.create(host=host, index=index, name="NVIDIA H100", total_bytes=80 << 30)
    return host


def create_job(instance: Instance, kind: JobKind = JobKind.SLEEP, **fields: Any) -> Job:
    return Job.objects.create(instance=instance, kind=kind, **fields)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """PBKDF2 costs ~0.1 s per user; the tests create hundreds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db: None) -> UserFactory:
    return create_user


@pytest.fixture
def viewer(make_user: UserFactory) -> User:
    return make_user(Role.VIEWER, username="vera")


@pytest.fixture
def operator(make_user: UserFactory) -> User:
    return make_user(Role.OPERATOR, username="otto")


@pytest.fixture
def admin(make_user: UserFactory) -> User:
    return make_user(Role.ADMIN, username="ada")


@pytest.fixture
def inactive_user(make_user: UserFactory) -> User:
    """Was an admin, then deactivated: must be treated as nobody."""
    return make_user(Role.ADMIN, username="ivan", active=False)


@pytest.fixture
def session_client() -> ClientFactory:
    """``session_client(user)``: signed in through the session (None: anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client() -> ClientFactory:
    """``token_client(user)``: sends ``Authorization: Token <key>`` (None: anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {new_token(user)}")
        return client

    return make


@pytest.fixture
def make_instance(db: None) -> Callable[..., Instance]:
    return create_instance


@pytest.fixture
def make_host(db: None) -> Callable[..., Host]:
    return create_host
