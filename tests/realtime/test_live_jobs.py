"""End to end: a real worker, agent and emulator; a viewer's page watches a sleep happen."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from console.jobs.service import JobRequest, request_job
from console.models import Instance, JobKind
from tests.jobs.conftest import InstanceFactory, console_host, make_instance, run_job  # noqa: F401
from tests.realtime.conftest import session_cookie, websocket
from tests.realtime.test_consumers import connected

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("role_groups"),
    pytest.mark.timeout(90),
]
SECRET = "sk-live-feed-secret"


@pytest.fixture
def awake(make_instance: InstanceFactory) -> Instance:  # noqa: F811
    instance = make_instance("feed", api_key=SECRET)
    run_job(instance, JobKind.LAUNCH)
    return instance


@pytest.fixture
def cookie(viewer: User) -> str:
    return session_cookie(viewer)


async def until_job_done(ws: WebsocketCommunicator, seconds: float = 60) -> list[dict[str, Any]]:
    """Every event up to the job.update that brings a finished job's figures (they are
    gathered after the job ends, and published again then)."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = await ws.receive_json_from(timeout=deadline - time.monotonic())
        events.append(event)
        finished = event["type"] == "job.update" and event["state"] in {"succeeded", "failed"}
        if finished and event["freed_gib"] is not None:
            return events
    raise TimeoutError("the job did not finish with its figures")


def in_order(seen: list[str], order: list[str]) -> bool:
    """Every state is one of ``order``, and none comes after a later one."""
    ranks = [order.index(state) for state in seen if state in order]
    return len(ranks) == len(seen) and ranks == sorted(ranks)


async def test_a_sleep_is_seen_live_without_secrets(awake: Instance, cookie: str) -> None:
    async with websocket(f"/ws/instances/{awake.pk}/", cookie) as ws:
        snapshot = await connected(ws)
        request = JobRequest(awake.pk, JobKind.SLEEP, {"level": 1})
        job = await sync_to_async(request_job)(request)
        events = await until_job_done(ws)
    mine = [e for e in events if e["type"] == "job.update" and e["id"] == job.pk]
    # One publication per move, each reading the row as committed when it is sent: a later
    # state can stand in for an earlier one (the job already running when its creation is
    # published), never the other way round.
    assert len(mine) == 4
    assert in_order([e["state"] for e in mine], ["queued", "running", "succeeded"])
    assert mine[-2]["state"] == mine[-1]["state"] == "succeeded"
    assert mine[-2]["freed_gib"] is None, "succeeded as soon as the engine call returned"
    assert mine[-1]["freed_gib"] > 0, "then its figures, from the engine's log"
    states = [e["state"] for e in events if e["type"] == "instance.state"]
    assert len(states) >= 2
    assert states[-1] == "sleeping"
    assert in_order(states[-2:], ["falling_asleep", "sleeping"])
    assert {e["type"] for e in events} >= {"gpu.sample", "host.sample", "engine.event"}
    assert SECRET not in json.dumps([snapshot, *events])
