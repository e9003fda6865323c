"""The hosts page: each host's agent (online, last heartbeat, version) and its GPUs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.models import MemorySample, Resolution, Subject
from console.roles import Role
from tests.console.conftest import create_host, create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.VIEWER))
    return client


def test_a_host_with_a_recent_heartbeat_is_online_with_its_gpus(viewer_page: Client) -> None:
    host = create_host("gpu-a", gpus=2, last_heartbeat=timezone.now(), agent_version="1.4")
    gpu = host.gpus.get(index=1)
    MemorySample.objects.create(at=timezone.now(), subject=Subject.GPU, gpu=gpu,
                                resolution=Resolution.RAW,
                                host=host, used_bytes=20 << 30, total_bytes=80 << 30)  # fmt: skip
    html = viewer_page.get("/hosts/").content.decode()
    card = html[html.index('id="host-') :]
    for shown in ("online", "1.4", "NVIDIA H100"):
        assert shown in card
    assert "20.0 / 80.0 GiB" in html
    assert "no sample yet" in html  # GPU 0 never sampled


def test_a_silent_agents_host_is_offline(viewer_page: Client) -> None:
    create_host("gpu-b", last_heartbeat=timezone.now() - timedelta(minutes=5))
    html = viewer_page.get("/hosts/").content.decode()
    assert ">offline<" in html


def test_no_host_says_how_to_add_one(viewer_page: Client) -> None:
    assert "start an agent" in viewer_page.get("/hosts/").content.decode()
