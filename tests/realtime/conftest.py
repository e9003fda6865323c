"""Connect to the real ASGI application (origin check, session auth, Redis channel layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.test import Client

from console.agent.loop import AgentLoop, register
from console.asgi import application
from console.roles import Role
from engines.probes import SimGpuProbe
from engines.simgpu import GIB, SimGpu, SimGpuDir
from tests.console.conftest import (  # noqa: F401  (fixtures shared with tests/console)
    admin,
    fast_password_hashing,
    inactive_user,
    make_user,
    operator,
    viewer,
)

ORIGIN = "http://localhost"


@pytest.fixture
def role_groups(transactional_db: None) -> None:
    """Transactional tests flush the role groups that migration 0002 created: put them back."""
    for role in Role:
        Group.objects.get_or_create(name=role.label)


@pytest.fixture
def sim_loop(tmp_path: Path) -> AgentLoop:
    """The agent of a host with one simulated 24 GiB GPU."""
    sim = SimGpuDir(tmp_path / "simgpu")
    sim.create([SimGpu(0, "GPU-sim-0", "Simulated GPU", 24 * GIB)])
    probe = SimGpuProbe(sim.path)
    return AgentLoop(register("gpu-sim", probe, "test"), probe)


Connector = Callable[..., Any]


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def headers(cookie: str | None, origin: str = ORIGIN) -> list[tuple[bytes, bytes]]:
    pairs = [(b"origin", origin.encode()), (b"host", b"localhost")]
    if cookie:
        pairs.append((b"cookie", f"sessionid={cookie}".encode()))
    return pairs


@asynccontextmanager
async def websocket(
    path: str, cookie: str | None, origin: str = ORIGIN
) -> AsyncIterator[WebsocketCommunicator]:
    """A connected communicator through ``console.asgi.application``; closed on exit."""
    communicator = WebsocketCommunicator(application, path, headers=headers(cookie, origin))
    try:
        yield communicator
    finally:
        await communicator.disconnect()
