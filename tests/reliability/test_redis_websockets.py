"""Open pages and a Redis (the channel layer) restart: the socket is dropped, not left
silently subscribed to groups Redis forgot, and the page's reconnect is live again.

The page side (reconnect with backoff on any close but 4401/4403, a snapshot first) is
tested in the browser after a web-server restart (tests/web/test_browser.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.contrib.auth.models import User
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from console.realtime.publisher import BATCH_TYPE, CONSOLE_GROUP
from console.roles import Role
from tests.console.conftest import PASSWORD, create_user
from tests.support.console import console_process
from tests.support.emulator import free_port
from tests.support.redis_server import redis_server
from tests.support.redis_server import stop as redis_stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def send_event(redis_url: str, marker: str) -> None:
    """What ``publish`` sends, through the private Redis."""
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"{settings.REDIS_PREFIX}asgi")
    event = {"type": "test.marker", "marker": marker}
    message = {"type": BATCH_TYPE, "events": [(None, json.dumps(event))]}
    async_to_sync(layer.group_send)(CONSOLE_GROUP, message)


@contextmanager
def web_on(redis_url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    argv = ["-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    env = {"REDIS_URL": redis_url}
    with console_process(argv, data_dir, "web", "Uvicorn running on", env=env):
        yield f"127.0.0.1:{port}"


def signed_in(address: str, user: User) -> str:
    """Sign in through the web process's login form; its session cookie."""
    with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
        client.get("/login/")
        client.post("/login/", data={"username": user.username, "password": PASSWORD,
                                     "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": f"http://{address}/login/"})  # fmt: skip
        return str(client.cookies["sessionid"])


@contextmanager
def open_dashboard(address: str, cookie: str) -> Iterator[ClientConnection]:
    """The dashboard's websocket, as the page opens it, after its snapshot."""
    with connect(
        f"ws://{address}/ws/console/",
        origin=Origin(f"http://{address}"),
        additional_headers={"Cookie": f"sessionid={cookie}"},
        open_timeout=10,
    ) as socket:
        snapshot = json.loads(socket.recv(timeout=10))
        assert snapshot["type"] == "snapshot"
        yield socket


def markers(socket: ClientConnection, seconds: float) -> list[str]:
    found: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        if event.get("type") == "test.marker":
            found.append(event["marker"])
    return found


def test_an_open_page_is_cut_when_redis_restarts_and_is_live_again_once_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    user = create_user(Role.VIEWER)
    with ExitStack() as stack:
        first = stack.enter_context(redis_server(port, tmp_path / "redis"))
        address = stack.enter_context(web_on(url, tmp_path / "web"))
        cookie = signed_in(address, user)
        with open_dashboard(address, cookie) as socket:
            send_event(url, "before")
            assert markers(socket, 3) == ["before"]
            redis_stop(first)
            # Not left open and silent (its groups may be gone with Redis's memory): the
            # server drops it, and the page's reconnect brings a fresh snapshot.
            with pytest.raises(ConnectionClosed):
                socket.recv(timeout=10)
        stack.enter_context(redis_server(port, tmp_path / "redis"))
        with reopened(address, cookie) as socket:
            send_event(url, "after")
            assert markers(socket, 3) == ["after"]


@contextmanager
def reopened(address: str, cookie: str, within: float = 30) -> Iterator[ClientConnection]:
    """Open the dashboard again as the page does: retry with backoff until one is live (the
    web process's pool may hand a first attempt a connection the old Redis closed)."""
    deadline = time.monotonic() + within
    delay = 0.5
    while True:
        opening = ExitStack()
        try:
            socket = opening.enter_context(open_dashboard(address, cookie))
        except (ConnectionClosed, OSError):
            opening.close()
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay *= 2
            continue
        with opening:
            yield socket
        return
