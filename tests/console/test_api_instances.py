"""The instances API: admins register and edit, secrets never come back, all audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from console.models import AuditEntry, Host, Instance, JobState, Outcome
from tests.console.conftest import ClientFactory, create_job

API_KEY = "sk-very-secret-engine-key"
ENV_VALUE = "hf_secret_token_value"
InstanceFactory = Callable[..., Instance]


def new_instance(**fields: Any) -> dict[str, Any]:
    return {
        "name": "llama-8b",
        "served_model_name": "meta/llama-8b",
        "base_url": "http://gpu-1:8000",
        **fields,
    }


@pytest.fixture
def secret_instance(make_instance: InstanceFactory) -> Instance:
    return make_instance(api_key=API_KEY, launch_env={"HF_TOKEN": ENV_VALUE})


def test_admin_registers_an_instance(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).post("/api/instances/", new_instance(), format="json")
    assert response.status_code == 201
    assert response.json()["state"] == "stopped"
    assert Instance.objects.get(name="llama-8b").served_model_name == "meta/llama-8b"


def test_viewer_cannot_register_an_instance(viewer: User, token_client: ClientFactory) -> None:
    response = token_client(viewer).post("/api/instances/", new_instance(), format="json")
    assert response.status_code == 403
    assert not Instance.objects.exists()


def test_anonymous_caller_gets_401_with_a_token_challenge(
    token_client: ClientFactory, db: None
) -> None:
    response = token_client(None).post("/api/instances/", new_instance(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://gpu-1:8000", "http:// or https://"),
        ("http://:8000", "no host"),
        ("http://gpu-1:8000/v1", "without a path"),
        ("http://user:pw@gpu-1:8000", "API key field"),
    ],
)
def test_base_url_must_be_scheme_host_and_port(
    admin: User, token_client: ClientFactory, url: str, message: str
) -> None:
    response = token_client(admin).post(
        "/api/instances/", new_instance(base_url=url), format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["base_url"][0]


def test_trailing_slash_of_base_url_is_dropped(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).post(
        "/api/instances/", new_instance(base_url="http://gpu-1:8000/"), format="json"
    )
    assert response.json()["base_url"] == "http://gpu-1:8000"


def test_launch_args_refuse_an_api_key(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).post(
        "/api/instances/", new_instance(launch_args=["--api-key", "x"]), format="json"
    )
    assert response.status_code == 400
    assert "API key field" in response.json()["launch_args"][0]


def test_gpus_must_belong_to_the_chosen_host(
    admin: User, token_client: ClientFactory, make_host: Callable[..., Host]
) -> None:
    mine, other = make_host(), make_host()
    response = token_client(admin).post(
        "/api/instances/",
        new_instance(host=mine.pk, gpus=[other.gpus.get().pk]),
        format="json",
    )
    assert response.status_code == 400
    assert "Not GPUs of host" in response.json()["gpus"][0]


def test_level2_idle_time_must_exceed_level1(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).post(
        "/api/instances/",
        new_instance(idle_sleep_l1_seconds=600, idle_sleep_l2_seconds=300),
        format="json",
    )
    assert response.status_code == 400
    assert "idle_sleep_l2_seconds" in response.json()


def test_secrets_are_write_only_even_for_admins(admin: User, token_client: ClientFactory) -> None:
    client = token_client(admin)
    created = client.post(
        "/api/instances/",
        new_instance(api_key=API_KEY, launch_env={"HF_TOKEN": ENV_VALUE}),
        format="json",
    )
    pk = created.json()["id"]
    responses = [created, client.get("/api/instances/"), client.get(f"/api/instances/{pk}/")]
    responses.append(client.patch(f"/api/instances/{pk}/", {"api_key": API_KEY}, format="json"))
    responses.append(client.get("/api/audit/"))
    for response in responses:
        assert API_KEY.encode() not in response.content
        assert ENV_VALUE.encode() not in response.content
    body = created.json()
    assert body["has_api_key"] is True
    assert body["launch_env_keys"] == ["HF_TOKEN"]
    assert "api_key" not in body
    assert "launch_env" not in body


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_non_admins_see_no_launch_environment_names(
    request: pytest.FixtureRequest,
    token_client: ClientFactory,
    secret_instance: Instance,
    role: str,
) -> None:
    response = token_client(request.getfixturevalue(role)).get(
        f"/api/instances/{secret_instance.pk}/"
    )
    assert response.status_code == 200
    assert b"HF_TOKEN" not in response.content
    assert API_KEY.encode() not in response.content
    assert response.json()["has_api_key"] is True


def test_dashboard_never_shows_secrets(
    admin: User, session_client: ClientFactory, secret_instance: Instance
) -> None:
    page = session_client(admin).get("/")
    assert secret_instance.name.encode() in page.content
    assert API_KEY.encode() not in page.content
    assert ENV_VALUE.encode() not in page.content


def test_admin_changes_an_instance(
    admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    response = token_client(admin).patch(
        f"/api/instances/{instance.pk}/", {"pinned_awake": True}, format="json"
    )
    assert response.status_code == 200
    instance.refresh_from_db()
    assert instance.pinned_awake


def test_new_launch_arguments_forget_what_the_last_backup_pinned(
    admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    Instance.objects.filter(pk=instance.pk).update(pinned_backup_bytes=17 << 30)
    url = f"/api/instances/{instance.pk}/"
    token_client(admin).patch(url, {"pinned_awake": True}, format="json")
    instance.refresh_from_db()
    assert instance.pinned_backup_bytes == 17 << 30, "unrelated to the backup"
    response = token_client(admin).patch(url, {"launch_model": "org/other"}, format="json")
    assert response.status_code == 200
    instance.refresh_from_db()
    assert instance.pinned_backup_bytes is None


def test_state_cannot_be_written_through_the_api(
    admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    token_client(admin).patch(f"/api/instances/{instance.pk}/", {"state": "awake"}, format="json")
    instance.refresh_from_db()
    assert instance.state == "stopped"


def test_instance_with_a_running_job_cannot_be_deleted(
    admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    create_job(instance, state=JobState.RUNNING)
    response = token_client(admin).delete(f"/api/instances/{instance.pk}/")
    assert response.status_code == 409
    assert "running job" in response.json()["detail"]
    assert Instance.objects.filter(pk=instance.pk).exists()


def test_successful_create_is_audited_with_field_names_only(
    admin: User, token_client: ClientFactory
) -> None:
    token_client(admin).post("/api/instances/", new_instance(api_key=API_KEY), format="json")
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.outcome) == ("ada", "instance.create", Outcome.OK)
    assert entry.target_repr == "llama-8b"
    assert "api_key" in entry.detail["fields"]
    assert API_KEY not in str(entry.detail)


def test_refused_request_is_audited(viewer: User, token_client: ClientFactory) -> None:
    token_client(viewer).post("/api/instances/", new_instance(), format="json")
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.outcome) == (
        "vera",
        "instance.create",
        Outcome.REFUSED,
    )
    assert entry.remote_addr == "127.0.0.1"


def test_invalid_request_is_audited_with_the_invalid_fields(
    admin: User, token_client: ClientFactory
) -> None:
    token_client(admin).post("/api/instances/", new_instance(base_url="nope"), format="json")
    entry = AuditEntry.objects.get()
    assert entry.outcome == Outcome.FAILED
    assert entry.detail["invalid"] == ["base_url"]


def test_anonymous_attempt_is_audited(token_client: ClientFactory, db: None) -> None:
    token_client(None).delete("/api/instances/7/")
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.action, entry.target_id, entry.outcome) == (
        None,
        "instance.delete",
        "7",
        Outcome.REFUSED,
    )


def test_deletion_is_audited_with_the_deleted_name(
    admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance(name="doomed")
    token_client(admin).delete(f"/api/instances/{instance.pk}/")
    entry = AuditEntry.objects.get()
    assert (entry.target_id, entry.target_repr, entry.outcome) == (
        str(instance.pk),
        "doomed",
        Outcome.OK,
    )


def test_body_that_is_not_json_gets_a_json_error(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).generic(
        "POST", "/api/instances/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert AuditEntry.objects.get().outcome == Outcome.FAILED
