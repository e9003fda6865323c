"""Websocket connections from a foreign Origin are refused on every route, signed in or not."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group

from console.asgi import application
from console.models import Instance
from console.realtime.routing import websocket_urlpatterns
from console.roles import Role
from tests.console.conftest import create_user, fast_password_hashing
from tests.realtime.conftest import headers, session_cookie

__all__ = ["fast_password_hashing"]

pytestmark = pytest.mark.django_db(transaction=True)

# Origins a browser could really send from another site (Origin checks defend browsers).
FOREIGN = ["http://evil.example", "https://localhost.evil.example", "http://127.0.0.1.nip.io",
           "null"]  # fmt: skip


def signed_in_viewer() -> tuple[str, int]:
    """A viewer's session cookie and an instance id for the per-instance route."""
    for role in Role:  # transactional tests flush the groups migration 0002 created
        Group.objects.get_or_create(name=role.label)
    instance = Instance.objects.create(name="ws", served_model_name="m", base_url="http://h:1")
    return session_cookie(create_user(Role.VIEWER, username="wes")), instance.pk


def paths(instance_id: int) -> list[str]:
    routes = [str(pattern.pattern) for pattern in websocket_urlpatterns]
    assert len(routes) >= 2
    return ["/" + route.replace("<int:instance_id>", str(instance_id)) for route in routes]


async def accepted(path: str, cookie: str, origin: str) -> bool:
    communicator = WebsocketCommunicator(application, path, headers=headers(cookie, origin))
    try:
        ok, _ = await communicator.connect()
        return bool(ok)
    finally:
        await communicator.disconnect()


async def test_every_websocket_route_refuses_a_foreign_origin() -> None:
    cookie, instance_id = await sync_to_async(signed_in_viewer)()
    for path in paths(instance_id):
        assert await accepted(path, cookie, "http://localhost"), f"{path}: control case"
        for origin in FOREIGN:
            assert not await accepted(path, cookie, origin), f"{path} from {origin}"


# The console's own host with another scheme or port: another site to the browser
# ("http://localhost:9999" used to get the snapshot).
SAME_HOST_ELSEWHERE = [
    "http://localhost:9999",
    "https://localhost",
    "http://localhost:8000",
    "ws://localhost",
    "http://localhost/page",
    "http://user@localhost",
]


async def test_an_origin_on_another_scheme_or_port_is_refused() -> None:
    cookie, instance_id = await sync_to_async(signed_in_viewer)()
    for path in paths(instance_id):
        assert await accepted(path, cookie, "http://localhost:80"), f"{path}: default port"
        for origin in SAME_HOST_ELSEWHERE:
            assert not await accepted(path, cookie, origin), f"{path} from {origin}"


async def test_a_csrf_trusted_origin_is_accepted(settings: Any) -> None:
    # Behind a TLS proxy the socket arrives as plain ws, the page's origin is https.
    settings.CSRF_TRUSTED_ORIGINS = ["https://localhost:8443", "https://*.localhost"]
    cookie, instance_id = await sync_to_async(signed_in_viewer)()
    path = paths(instance_id)[0]
    assert await accepted(path, cookie, "https://localhost:8443")
    assert await accepted(path, cookie, "https://localhost")
    assert not await accepted(path, cookie, "http://localhost:8443")


async def test_behind_the_trusted_tls_proxy_the_https_origin_is_the_consoles_own(
    settings: Any,
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    cookie, instance_id = await sync_to_async(signed_in_viewer)()
    path = paths(instance_id)[0]
    proxied = [*headers(cookie, "https://localhost"), (b"x-forwarded-proto", b"https")]
    communicator = WebsocketCommunicator(application, path, headers=proxied)
    try:
        assert (await communicator.connect())[0]
    finally:
        await communicator.disconnect()
    assert not await accepted(path, cookie, "https://localhost"), "no header: plain ws"
