"""The WebSocket feeds through the full ASGI stack and the real Redis channel layer."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from console.models import Instance, InstanceState, Job, JobKind
from console.realtime import payloads
from console.realtime.consumers import ConsoleConsumer
from console.realtime.messages import GpuSample, InstanceStateEvent
from console.realtime.publisher import apublish
from tests.console.conftest import create_host, create_instance, create_user
from tests.realtime.conftest import session_cookie, websocket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("role_groups"),
    pytest.mark.timeout(30),
]

SECRET = "sk-very-secret-engine-key"


@pytest.fixture
def instance() -> Instance:
    host = create_host(name="gpu-a", gpus=2)
    return create_instance(
        name="llama", host=host, gpus=list(host.gpus.all()), api_key=SECRET,
        launch_env={"HF_TOKEN": SECRET}, state=InstanceState.AWAKE,
    )  # fmt: skip


@pytest.fixture
def no_role_cookie(db: None) -> str:
    return session_cookie(create_user(None))


@pytest.fixture
def viewer_cookie(viewer: User) -> str:
    return session_cookie(viewer)


def gpu_event(gpu_id: int = 1) -> GpuSample:
    return {
        "type": "gpu.sample", "host": "gpu-a", "gpu_id": gpu_id, "index": 0,
        "at": "2026-01-01T00:00:00+00:00", "used_bytes": 5, "total_bytes": 10,
        "utilization_pct": 3, "by_instance": {"llama": 5},
    }  # fmt: skip


async def connected(communicator: WebsocketCommunicator) -> dict[str, object]:
    """Connect and return the snapshot, which must come first."""
    ok, _ = await communicator.connect()
    assert ok
    snapshot: dict[str, object] = await communicator.receive_json_from(timeout=5)
    return snapshot


async def closed_with(communicator: WebsocketCommunicator) -> int:
    await communicator.connect()
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return int(message["code"])


async def test_anonymous_is_closed_with_4401() -> None:
    async with websocket("/ws/console/", None) as ws:
        assert await closed_with(ws) == 4401


async def test_user_without_role_is_closed_with_4403(no_role_cookie: str) -> None:
    async with websocket("/ws/console/", no_role_cookie) as ws:
        assert await closed_with(ws) == 4403


async def test_foreign_origin_is_refused(viewer_cookie: str) -> None:
    async with websocket("/ws/console/", viewer_cookie, origin="http://evil.example") as ws:
        ok, _ = await ws.connect()
        assert not ok


async def test_viewer_gets_snapshot_first(instance: Instance, viewer_cookie: str) -> None:
    async with websocket("/ws/console/", viewer_cookie) as ws:
        snapshot = await connected(ws)
    assert snapshot["type"] == "snapshot"
    assert [i["name"] for i in snapshot["instances"]] == ["llama"]  # type: ignore[attr-defined]
    assert len(snapshot["gpus"]) == 2  # type: ignore[arg-type]
    assert [h["name"] for h in snapshot["hosts"]] == ["gpu-a"]  # type: ignore[attr-defined]


async def test_snapshot_carries_no_secret(instance: Instance, viewer_cookie: str) -> None:
    await Job.objects.acreate(instance=instance, kind=JobKind.SLEEP, params={"level": 1})
    async with websocket("/ws/console/", viewer_cookie) as ws:
        snapshot = await connected(ws)
    text = json.dumps(snapshot)
    assert SECRET not in text
    assert "api_key" not in text
    assert "launch_env" not in text


async def test_snapshot_lists_recent_jobs(instance: Instance, viewer_cookie: str) -> None:
    job = await Job.objects.acreate(instance=instance, kind=JobKind.SLEEP, params={"level": 2})
    async with websocket("/ws/console/", viewer_cookie) as ws:
        snapshot = await connected(ws)
    assert snapshot["jobs"] == [payloads.job_update(job)]


async def test_published_event_reaches_the_dashboard(viewer_cookie: str) -> None:
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        await apublish(gpu_event())
        assert await ws.receive_json_from(timeout=5) == gpu_event()


async def test_log_lines_only_reach_their_instance_page(
    instance: Instance, viewer_cookie: str
) -> None:
    line = payloads.log_line(instance.pk, "INFO 01-01 00:00:00 hello")
    async with (
        websocket("/ws/console/", viewer_cookie) as dashboard,
        websocket(f"/ws/instances/{instance.pk}/", viewer_cookie) as page,
    ):
        await connected(dashboard)
        await connected(page)
        await apublish(line)
        assert await page.receive_json_from(timeout=5) == line
        assert await dashboard.receive_nothing(timeout=0.3)


async def test_instance_page_skips_other_instances_events(
    instance: Instance, viewer_cookie: str
) -> None:
    other = payloads.log_line(instance.pk + 1000, "not mine")
    mine = payloads.instance_state(instance)
    async with websocket(f"/ws/instances/{instance.pk}/", viewer_cookie) as page:
        await connected(page)
        elsewhere = InstanceStateEvent(**{**mine, "instance_id": instance.pk + 1000})
        await apublish(elsewhere, other, mine)
        assert await page.receive_json_from(timeout=5) == mine


async def test_instance_snapshot_holds_only_that_instance(
    instance: Instance, viewer_cookie: str
) -> None:
    await Instance.objects.acreate(name="other", served_model_name="o", base_url="http://x:1")
    async with websocket(f"/ws/instances/{instance.pk}/", viewer_cookie) as page:
        snapshot = await connected(page)
    assert [i["id"] for i in snapshot["instances"]] == [instance.pk]  # type: ignore[attr-defined]


async def test_unknown_instance_is_closed_with_4404(viewer_cookie: str) -> None:
    async with websocket("/ws/instances/999999/", viewer_cookie) as ws:
        assert await closed_with(ws) == 4404


async def test_a_user_deactivated_without_signals_is_cut_off_at_the_next_check(
    viewer: User, viewer_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 0.0)
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        await User.objects.filter(pk=viewer.pk).aupdate(is_active=False)
        await apublish(gpu_event())
        message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4403}


async def test_deactivating_a_user_closes_their_pages_at_once(
    viewer: User, viewer_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 3600.0)
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        viewer.is_active = False
        await viewer.asave()
        message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4403}


async def test_removing_a_users_role_closes_their_pages_at_once(
    viewer: User, viewer_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 3600.0)
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        await sync_to_async(viewer.groups.clear)()
        message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4403}


async def test_role_is_rechecked_only_after_the_interval(
    viewer: User, viewer_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 60.0)
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        await User.objects.filter(pk=viewer.pk).aupdate(is_active=False)
        await apublish(gpu_event())
        assert await ws.receive_json_from(timeout=5) == gpu_event()


@pytest.fixture
def operator_and_admin_cookies(operator: User, admin: User) -> list[str]:
    return [session_cookie(operator), session_cookie(admin)]


async def test_operator_and_admin_get_the_same_feed(operator_and_admin_cookies: list[str]) -> None:
    received = []
    for cookie in operator_and_admin_cookies:
        async with websocket("/ws/console/", cookie) as ws:
            await connected(ws)
            await apublish(gpu_event(7))
            received.append(await ws.receive_json_from(timeout=5))
    assert received == [gpu_event(7), gpu_event(7)]


def signed_in_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def test_signing_out_closes_that_sessions_pages_at_once(
    viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A socket used to keep streaming for 41 s after its session signed out.
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 3600.0)
    client = await sync_to_async(signed_in_client)(viewer)
    async with websocket("/ws/console/", client.cookies["sessionid"].value) as ws:
        await connected(ws)
        assert (await sync_to_async(client.post)("/logout/")).status_code == 302
        message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4401}


async def test_signing_out_leaves_the_users_other_sessions_open(
    viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 3600.0)
    leaving = await sync_to_async(signed_in_client)(viewer)
    staying = await sync_to_async(signed_in_client)(viewer)
    async with websocket("/ws/console/", staying.cookies["sessionid"].value) as ws:
        await connected(ws)
        await sync_to_async(leaving.post)("/logout/")
        await apublish(gpu_event())
        assert (await ws.receive_json_from(timeout=5))["type"] == "gpu.sample"


async def test_a_session_ended_without_signals_is_cut_off_at_the_next_check(
    viewer: User, viewer_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsoleConsumer, "role_recheck_seconds", 0.0)
    async with websocket("/ws/console/", viewer_cookie) as ws:
        await connected(ws)
        await Session.objects.filter(session_key=viewer_cookie).adelete()
        await apublish(gpu_event())
        message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4401}
