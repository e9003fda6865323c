"""WebSocket consumers: the dashboard feed and one instance's feed with its log tail.

Both check the user on connect, and a user deactivated (or stripped of every role) while
connected is cut off with close code 4403: at once when the change is saved through the
ORM (``console.realtime.revocation`` tells the user's pages to re-check), and in any case
before forwarding the first batch after ``role_recheck_seconds``. A page whose session
ended (logout, expiry, password changed elsewhere) is cut off with 4401 the same way.
A re-check reads the database (a new connection per call in Channels, a new TCP
connection on PostgreSQL): checking every second, 200 open dashboards cost 200 of those
a second, serialised on Channels' one database thread, which put p99 delivery near
400 ms in bench/fanout.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from console.models import Instance
from console.realtime import revocation  # noqa: F401  (connects its receivers in the web process)
from console.realtime.publisher import CONSOLE_GROUP, instance_group, user_group
from console.realtime.snapshot import build_snapshot
from console.roles import Action, can

log = logging.getLogger(__name__)

# Close codes the pages act on (4000-4999 are the application's): log in, no access, gone.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def may_view(user_id: int) -> bool:
    """Read the user again: still active and still holding a role that may view."""
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    return user is not None and can(user, Action.VIEW)


def session_signs_in(session_key: str, user_id: int) -> bool:
    """The socket's session, read again, still signs this user in (as Django checks a
    request: the session exists, names the user, and its password hash still matches)."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return bool(auth.get_user(request).pk == user_id)


def close_code(user_id: int, session_key: str | None) -> int | None:
    """Why the socket must close now (4403: no access, 4401: signed out), or None."""
    if not may_view(user_id):
        return CLOSE_FORBIDDEN
    if not session_key or not session_signs_in(session_key, user_id):
        return CLOSE_UNAUTHENTICATED
    return None


class ConsoleConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """``/ws/console/``: every host, GPU, instance and job, live."""

    role_recheck_seconds = 30.0

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        self.renewing: asyncio.Task[None] | None = None
        self.checked_at = 0.0
        self.cut = False
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.cut_off(CLOSE_UNAUTHENTICATED)
            return
        self.user_id: int = user.pk
        session = self.scope.get("session")
        self.session_key: str | None = session.session_key if session is not None else None
        code = await self.recheck(force=True)
        if code is not None:
            await self.cut_off(code)
            return
        await self.join(user_group(self.user_id))
        if not await self.subscribe():
            return
        await self.send_json(await database_sync_to_async(build_snapshot)(self.instance_id()))

    def instance_id(self) -> int | None:
        """None: the whole console; the instance consumer narrows it to one."""
        return None

    async def subscribe(self) -> bool:
        await self.join(CONSOLE_GROUP)
        return True

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)
        if self.renewing is None:
            self.renewing = asyncio.create_task(self.renew_membership())

    async def renew_membership(self) -> None:
        """Join the groups again before the membership lapses (settings'
        ``CONSOLE_WS_GROUP_EXPIRY_SECONDS``), for as long as the page is connected."""
        every = self.channel_layer.group_expiry / 4
        while True:
            await asyncio.sleep(every)
            try:
                for group in list(self.groups_joined):
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception as error:  # Redis away: the next round tries again
                log.warning("websocket: group membership not renewed: %s: %s",
                            type(error).__name__, error)  # fmt: skip

    async def leave_groups(self) -> None:
        if self.renewing is not None:
            self.renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.renewing
            self.renewing = None
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def cut_off(self, code: int) -> None:
        """Close with ``code``; events already queued for this connection are dropped."""
        self.cut = True
        await self.leave_groups()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "groups_joined"):
            await self.leave_groups()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The feed is one-way: whatever a browser sends is ignored."""

    async def recheck(self, *, force: bool = False) -> int | None:
        """The close code if the user or the session lost access (read at most every
        ``role_recheck_seconds`` unless forced), else None."""
        now = time.monotonic()
        if not force and now - self.checked_at < self.role_recheck_seconds:
            return None
        code: int | None = await database_sync_to_async(close_code)(self.user_id, self.session_key)
        self.checked_at = now
        return code

    async def realtime_recheck(self, message: dict[str, Any]) -> None:
        """The user was changed or signed out: read the user and the session again now."""
        if self.cut:
            return
        code = await self.recheck(force=True)
        if code is not None:
            await self.cut_off(code)

    async def realtime_batch(self, message: dict[str, Any]) -> None:
        """A batch from the publisher: check the user once, then forward each event."""
        if self.cut:
            return
        code = await self.recheck()
        if code is not None:
            await self.cut_off(code)
            return
        for instance_id, text in message["events"]:
            if self.wants(instance_id):
                await self.send(text_data=text)

    def wants(self, instance_id: int | None) -> bool:
        """Whether an event about ``instance_id`` (None: about no instance) is for this page."""
        return True


class InstanceConsumer(ConsoleConsumer):
    """``/ws/instances/<id>/``: one instance's state, jobs, events, log lines, and samples."""

    def instance_id(self) -> int:
        return int(self.scope["url_route"]["kwargs"]["instance_id"])

    async def subscribe(self) -> bool:
        if not await Instance.objects.filter(pk=self.instance_id()).aexists():
            await self.cut_off(CLOSE_NOT_FOUND)
            return False
        await self.join(CONSOLE_GROUP)
        await self.join(instance_group(self.instance_id()))
        return True

    def wants(self, instance_id: int | None) -> bool:
        """Samples of every GPU and host (the page picks its own); only this instance's rest."""
        return instance_id is None or instance_id == self.instance_id()
