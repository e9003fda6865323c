"""Every websocket route x every kind of caller opens or closes as the role matrix says."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from console.roles import Role
from tests.console.conftest import create_instance, create_user
from tests.console.role_matrix import WEBSOCKET_ROWS, Principal, all_websocket_routes
from tests.realtime.conftest import session_cookie, websocket

CASES = [(route, who) for route in WEBSOCKET_ROWS for who in Principal]


def test_every_websocket_route_has_a_row() -> None:
    assert set(all_websocket_routes()) - set(WEBSOCKET_ROWS) == set()


def test_every_websocket_row_names_an_existing_route() -> None:
    assert set(WEBSOCKET_ROWS) - set(all_websocket_routes()) == set()


def cookie_for(who: Principal) -> str | None:
    if who == Principal.ANONYMOUS:
        return None
    if who == Principal.BAD_TOKEN:
        return "not-a-session"
    if who == Principal.INACTIVE:
        return session_cookie(create_user(Role.ADMIN, active=False))
    return session_cookie(create_user(Role[who.name]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
@pytest.mark.parametrize(("route", "who"), CASES, ids=[f"{r}-{w}" for r, w in CASES])
async def test_websocket_role_matrix(route: str, who: Principal) -> None:
    row = WEBSOCKET_ROWS[route]
    instance = await database_sync_to_async(create_instance)()
    cookie = await database_sync_to_async(cookie_for)(who)
    async with websocket(row.url.format(instance=instance.pk), cookie) as socket:
        await socket.connect()
        first = await socket.receive_output(timeout=5)
    closed_with = first.get("code") if first["type"] == "websocket.close" else None
    assert closed_with == row.expect[who], first
