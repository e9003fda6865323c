"""Database changes reach connected pages: state changes, jobs, an agent tick's samples."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from console.agent.loop import AgentLoop
from console.jobs.reconcile import fail_stuck_jobs
from console.models import EngineEvent, Instance, InstanceState, Job, JobKind, JobState
from console.realtime import notify
from console.realtime.publisher import flush
from engines.simgpu import GIB
from tests.console.conftest import create_instance
from tests.realtime.conftest import session_cookie, websocket
from tests.realtime.test_consumers import connected

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("role_groups"),
    pytest.mark.timeout(30),
]


@pytest.fixture
def cookie(viewer: User) -> str:
    return session_cookie(viewer)


@pytest.fixture
def instance() -> Instance:
    created = create_instance(name="qwen", state=InstanceState.SLEEPING, sleep_level=1)
    # Its creation is published in the background: let that pass before a page connects.
    assert flush()
    return created


async def test_a_state_change_reaches_the_dashboard(cookie: str, instance: Instance) -> None:
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        await sync_to_async(notify.instance_changed)(instance.pk)
        event = await ws.receive_json_from()
    assert event == {
        "type": "instance.state", "instance_id": instance.pk, "name": "qwen",
        "state": "sleeping", "sleep_level": 1, "state_detail": "", "is_demo": False,
    }  # fmt: skip


async def test_a_new_job_is_published_as_queued(cookie: str, instance: Instance) -> None:
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        job = await Job.objects.acreate(instance=instance, kind=JobKind.WAKE)
        event = await ws.receive_json_from()
    assert (event["type"], event["id"], event["state"]) == ("job.update", job.pk, "queued")


async def test_a_job_failed_by_the_reconcile_sweep_is_published(
    cookie: str, instance: Instance
) -> None:
    await Instance.objects.filter(pk=instance.pk).aupdate(state=InstanceState.WAKING,
                                                          sleep_level=None)  # fmt: skip
    long_ago = timezone.now() - timedelta(hours=1)
    job = await Job.objects.acreate(instance=instance, kind=JobKind.WAKE,
                                    state=JobState.RUNNING, started_at=long_ago)  # fmt: skip
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        assert await sync_to_async(fail_stuck_jobs)({JobKind.WAKE: 60}) == 1
        events = [await ws.receive_json_from(), await ws.receive_json_from()]
    [update] = [e for e in events if e["type"] == "job.update"]
    assert (update["id"], update["state"]) == (job.pk, "failed")
    assert update["error"] == "the job exceeded its time limit"
    [state] = [e for e in events if e["type"] == "instance.state"]
    assert state["state"] == "unknown", "the sweep doubts the instance, and says so live"


async def test_an_agent_tick_publishes_gpu_and_host_samples(
    cookie: str, sim_loop: AgentLoop
) -> None:
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        await sync_to_async(sim_loop.tick)()
        gpu, host = await ws.receive_json_from(), await ws.receive_json_from()
    assert (gpu["type"], gpu["host"], gpu["index"]) == ("gpu.sample", "gpu-sim", 0)
    assert gpu["total_bytes"] == 24 * GIB
    assert (host["type"], host["host"]) == ("host.sample", "gpu-sim")
    assert host["total_bytes"] > host["used_bytes"] > 0


async def test_an_agent_tick_tails_new_log_lines_to_the_instance_page(
    cookie: str, sim_loop: AgentLoop, instance: Instance, tmp_path: Path
) -> None:
    log = tmp_path / "engine.log"
    log.write_text("before the agent looked\n")
    await Instance.objects.filter(pk=instance.pk).aupdate(log_path=str(log), host=sim_loop.host)
    await sync_to_async(sim_loop.tick)()
    with log.open("a") as file:
        file.write("INFO 03-01 12:00:00 [api_server.py:1] new line\n")
    async with websocket(f"/ws/instances/{instance.pk}/", cookie) as page:
        await connected(page)
        await sync_to_async(sim_loop.tick)()
        events = [await page.receive_json_from() for _ in range(2)]
        events.append(await page.receive_json_from())
    lines = [e for e in events if e["type"] == "log.line"]
    assert lines == [
        {"type": "log.line", "instance_id": instance.pk,
         "line": "INFO 03-01 12:00:00 [api_server.py:1] new line"},
    ]  # fmt: skip


async def test_an_observation_of_the_console_is_published(cookie: str, instance: Instance) -> None:
    async with websocket("/ws/console/", cookie) as ws:
        await connected(ws)
        await EngineEvent.objects.acreate(instance=instance, kind="engine_died", message="gone")
        event = await ws.receive_json_from()
    assert (event["type"], event["kind"], event["message"]) == (
        "engine.event",
        "engine_died",
        "gone",
    )


def test_an_engine_api_key_in_a_log_line_never_reaches_the_live_tail() -> None:
    line = "INFO 11-24 10:00:00 [utils.py:233] non-default args: {'api_key': ['sk-top']}"
    (event,) = notify.log_line_events(7, [line])
    assert "sk-top" not in str(event)
    assert "'api_key': '***'" in str(event)
