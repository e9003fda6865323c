"""The route table's pushed changes: applied in order, and never missed by a waiter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from console.gates.changes import StateChange
from console.gateway.routes import Route, RouteTable, Snapshot

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def table_with(state: str) -> RouteTable:
    table = RouteTable()
    route = Route(7, "m/a", "http://127.0.0.1:9", "", state, T0)
    table.snapshot = Snapshot(routes={"m/a": [route]})
    return table


def test_a_pushed_change_patches_the_route() -> None:
    table = table_with("sleeping")
    patched = table.apply(StateChange(7, "awake", T0 + timedelta(seconds=1), ""))
    assert patched is not None
    assert table.route("m/a") == patched
    assert (patched.state, patched.state_changed_at) == ("awake", T0 + timedelta(seconds=1))


def test_a_change_older_than_the_table_is_ignored() -> None:
    table = table_with("awake")
    table.apply(StateChange(7, "sleeping", T0 - timedelta(seconds=1), ""))
    route = table.route("m/a")
    assert route is not None
    assert route.state == "awake"


def test_a_change_for_an_instance_the_table_lacks_says_so() -> None:
    assert table_with("awake").apply(StateChange(8, "awake", T0, "")) is None


async def test_a_waiter_does_not_wait_for_a_change_that_came_while_it_was_busy() -> None:
    table = table_with("sleeping")
    seen = table.version
    table.wake_waiters()  # the wake's push arrived while the waiter was asking for the wake
    started = asyncio.get_running_loop().time()
    await table.changed(5.0, since=seen)
    assert asyncio.get_running_loop().time() - started < 0.5


async def test_a_waiter_is_woken_by_the_next_change() -> None:
    table = table_with("sleeping")
    waiter = asyncio.create_task(table.changed(5.0, since=table.version))
    await asyncio.sleep(0)
    assert not waiter.done()
    table.wake_waiters()
    await asyncio.wait_for(waiter, 1.0)
