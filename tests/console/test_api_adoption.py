"""Registering an engine by URL: its log path (admins set it, validated), the
probe sent when the row commits, and the instance page's evidence without an agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.celery import app
from console.models import Instance
from tests.console.conftest import ClientFactory


def adopted(**fields: Any) -> dict[str, Any]:
    return {"name": "hand-run", "served_model_name": "org/m", "base_url": "http://gpu-1:8000",
            **fields}  # fmt: skip


def test_admin_gives_an_adopted_engines_log_path(
    admin: User, token_client: ClientFactory, tmp_path: Path
) -> None:
    log = tmp_path / "vllm.log"
    log.write_text("")
    response = token_client(admin).post(
        "/api/instances/", adopted(log_path=str(log)), format="json"
    )
    assert response.status_code == 201, response.content
    assert Instance.objects.get().log_path == str(log)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("vllm.log", "absolute path"),
        ("/nonexistent/vllm.log", "No file at /nonexistent/vllm.log"),
        ("/", "No file at /"),
    ],
)
def test_a_log_path_that_is_not_a_readable_file_is_refused(
    admin: User, token_client: ClientFactory, path: str, message: str
) -> None:
    response = token_client(admin).post("/api/instances/", adopted(log_path=path), format="json")
    assert response.status_code == 400
    assert message in response.json()["log_path"][0]
    assert not Instance.objects.exists()


def test_registering_sends_a_probe_once_the_row_is_committed(
    admin: User,
    token_client: ClientFactory,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, tuple[int, ...], str]] = []

    def send_task(name: str, args: tuple[int, ...], **options: Any) -> None:
        queue = app.amqp.router.route(dict(options), name)["queue"].name  # where it would go
        sent.append((name, args, queue))

    monkeypatch.setattr("console.api.views.current_app.send_task", send_task)
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(admin).post("/api/instances/", adopted(), format="json")
    assert sent == [("console.tasks.reconcile_instance", (response.json()["id"],), "background")]


def test_the_instance_page_says_why_no_evidence_without_a_host(
    viewer: User, make_instance: Any, client: Client
) -> None:
    instance = make_instance()
    client.force_login(viewer)
    page = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'Log followed</dt><dd data-evidence="no">no (no log path given' in page
    assert 'GPU memory attributed</dt><dd data-evidence="no">no (no host set' in page


def test_an_unchanged_log_path_is_accepted_though_the_file_is_gone(
    admin: User, token_client: ClientFactory, make_instance: Any
) -> None:
    instance = make_instance(log_path="/nonexistent/engine.log")
    response = token_client(admin).patch(
        f"/api/instances/{instance.pk}/",
        {"log_path": "/nonexistent/engine.log", "served_model_name": "org/other"},
        format="json",
    )
    assert response.status_code == 200, response.content
