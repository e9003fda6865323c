"""Users per role, API clients, and factories for the console's rows (reusable by any test
package: ``from tests.console.conftest import ...`` or as fixtures under tests/console)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.api.tokens import new_token
from console.models import Host, Instance, Job, JobKind
from console.roles import Role
from tests.support import factories

PASSWORD = factories.PASSWORD

UserFactory = Callable[..., User]
ClientFactory = Callable[[User | None], APIClient]


def create_user(
    role: Role | None = Role.VIEWER, *, username: str = "", active: bool = True
) -> User:
    """A user with ``role`` (None: no role group) and the password ``PASSWORD``."""
    named = {"username": username} if username else {}
    return factories.UserFactory.create(role=role, is_active=active, **named)


def create_instance(**fields: Any) -> Instance:
    """An instance with a unique name, registered against a local URL."""
    return factories.InstanceFactory.create(**fields)


def create_host(name: str = "", gpus: int = 1, **fields: Any) -> Host:
    """A host with ``gpus`` 80 GiB GPUs numbered from 0."""
    named = {"name": name} if name else {}
    return factories.HostFactory.create(gpus=gpus, **named, **fields)


def create_job(instance: Instance, kind: JobKind = JobKind.SLEEP, **fields: Any) -> Job:
    return factories.JobFactory.create(instance=instance, kind=kind, **fields)


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
