"""A page's group membership lapses unless its consumer renews it.

A page whose web process died never discarded its groups: with channels_redis's default
group expiry (a day) every publication kept going to it, each logging "channels over
capacity". Membership now lapses after ``group_expiry`` (two seconds here) and connected
pages renew theirs every quarter of it.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from console.realtime.messages import GpuSample
from console.realtime.publisher import CONSOLE_GROUP, apublish
from tests.realtime.conftest import session_cookie, websocket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("role_groups"),
    pytest.mark.timeout(30),
]

EXPIRY_SECONDS = 2


@pytest.fixture
def short_group_expiry(settings: Settings) -> None:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["group_expiry"] = EXPIRY_SECONDS
    settings.CHANNEL_LAYERS = layers  # channels builds its layers again on this change


def sample() -> GpuSample:
    return {
        "type": "gpu.sample", "host": "gpu-a", "gpu_id": 7, "index": 0,
        "at": "2026-01-01T00:00:00+00:00", "used_bytes": 5, "total_bytes": 10,
        "utilization_pct": 3, "by_instance": {},
    }  # fmt: skip


@pytest.mark.usefixtures("short_group_expiry")
async def test_a_connected_page_keeps_its_groups_and_a_dead_one_drops_out(viewer: User) -> None:
    layer = get_channel_layer()
    assert layer.group_expiry == EXPIRY_SECONDS
    dead = await layer.new_channel()
    await layer.group_add(CONSOLE_GROUP, dead)  # a page whose process died: never discarded
    cookie = await asyncio.to_thread(session_cookie, viewer)
    async with websocket("/ws/console/", cookie) as page:
        ok, _ = await page.connect()
        assert ok
        assert (await page.receive_json_from(timeout=5))["type"] == "snapshot"
        await asyncio.sleep(EXPIRY_SECONDS * 1.5)  # both memberships would have lapsed
        await apublish(sample())
        assert await page.receive_json_from(timeout=5) == sample()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(dead), timeout=1)
