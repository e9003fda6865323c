"""The publisher: where each event goes, and that a Redis outage never raises."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from console.realtime.messages import Event, LogLine
from console.realtime.publisher import CONSOLE_GROUP, batches, flush, group_of, publish
from tests.realtime.conftest import session_cookie, websocket
from tests.realtime.test_consumers import connected, gpu_event


def line(instance_id: int) -> LogLine:
    return {"type": "log.line", "instance_id": instance_id, "line": "x"}


def test_log_lines_go_to_their_instance_group() -> None:
    assert group_of(line(7)) == "instance.7"


def test_samples_go_to_the_console_group() -> None:
    assert group_of(gpu_event()) == CONSOLE_GROUP


def test_batches_keep_publication_order_per_group() -> None:
    events: list[Event] = [gpu_event(1), line(3), gpu_event(2), line(3)]
    assert batches(events) == {
        CONSOLE_GROUP: [gpu_event(1), gpu_event(2)],
        "instance.3": [line(3), line(3)],
    }


def test_publish_survives_an_unreachable_redis(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    publish(gpu_event())
    assert flush(), "published in the background, and the failure did not stop the thread"
    assert "realtime publish to console failed" in caplog.text


@pytest.fixture
def cookie(viewer: User) -> str:
    return session_cookie(viewer)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("role_groups")
async def test_sync_publish_reaches_a_connected_page(cookie: str) -> None:
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        await sync_to_async(publish)(gpu_event(1), gpu_event(2))
        assert [await ws.receive_json_from(), await ws.receive_json_from()] == [
            gpu_event(1),
            gpu_event(2),
        ]
