"""Admins register, edit and delete instances from the browser, judged by the
API's own rules, secrets write-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from console.models import AuditEntry, Instance, JobState, Outcome
from console.roles import Role
from tests.console.conftest import create_host, create_instance, create_job, create_user

pytestmark = pytest.mark.django_db
SECRET = "sk-engine-secret-never-shown"


@pytest.fixture
def admin_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.ADMIN))
    return client


def form(**fields: Any) -> dict[str, Any]:
    return {"name": "hand-run", "served_model_name": "org/model",
            "base_url": "http://127.0.0.1:8011", "launch_executable": "vllm", **fields}  # fmt: skip


def test_an_admin_registers_an_instance_by_url(admin_page: Client) -> None:
    host = create_host("gpu-a", gpus=2)
    gpu = host.gpus.get(index=1)
    response = admin_page.post("/instances/new/", form(host=host.pk, gpus=[gpu.pk]))
    instance = Instance.objects.get(name="hand-run")
    assert response.status_code == 302
    assert response["Location"] == f"/instances/{instance.pk}/"
    assert (instance.host, list(instance.gpus.all())) == (host, [gpu])
    assert AuditEntry.objects.get(action="instance.create").outcome == Outcome.OK


def test_a_bad_url_is_refused_with_the_apis_message_beside_its_field(admin_page: Client) -> None:
    response = admin_page.post("/instances/new/", form(base_url="ftp://gpu-1:8000"))
    assert response.status_code == 400
    page = response.content.decode()
    field = page[page.index('id="field-base_url"') : page.index('id="field-api_key"')]
    assert "http:// or https://" in field
    assert 'value="ftp://gpu-1:8000"' in field  # what was typed is kept
    assert not Instance.objects.exists()


def test_launch_arguments_that_a_shell_cannot_read_are_refused(admin_page: Client) -> None:
    response = admin_page.post("/instances/new/", form(launch_args='--x "unclosed'))
    assert response.status_code == 400
    assert "Cannot read these arguments" in response.content.decode()
    assert not Instance.objects.exists()


def test_the_edit_page_never_shows_the_api_key_or_the_environment(admin_page: Client) -> None:
    instance = create_instance(api_key=SECRET, launch_env={"HF_TOKEN": "hf_value_secret"})
    page = admin_page.get(f"/instances/{instance.pk}/edit/").content.decode()
    assert SECRET not in page
    assert "hf_value_secret" not in page
    assert "A key is set." in page
    assert "Set now: HF_TOKEN." in page


def test_saving_with_the_secret_boxes_empty_keeps_the_secrets(admin_page: Client) -> None:
    instance = create_instance(api_key=SECRET, launch_env={"HF_TOKEN": "v"})
    response = admin_page.post(
        f"/instances/{instance.pk}/edit/", form(name=instance.name, served_model_name="org/new")
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.served_model_name, instance.api_key) == ("org/new", SECRET)
    assert instance.launch_env == {"HF_TOKEN": "v"}


def test_the_clear_boxes_clear_the_secrets(admin_page: Client) -> None:
    instance = create_instance(api_key=SECRET, launch_env={"HF_TOKEN": "v"})
    admin_page.post(
        f"/instances/{instance.pk}/edit/",
        form(name=instance.name, clear_api_key="on", clear_launch_env="on"),
    )
    instance.refresh_from_db()
    assert (instance.api_key, instance.launch_env) == ("", {})


def test_an_environment_line_without_an_equals_sign_is_refused(admin_page: Client) -> None:
    response = admin_page.post("/instances/new/", form(launch_env="HF_TOKEN"))
    assert response.status_code == 400
    assert "Line 1: write KEY=VALUE." in response.content.decode()


def test_an_admin_deletes_an_instance(admin_page: Client) -> None:
    instance = create_instance()
    response = admin_page.post(f"/instances/{instance.pk}/delete/")
    assert response.status_code == 302
    assert not Instance.objects.exists()


def test_an_instance_with_a_running_job_is_not_deleted(admin_page: Client) -> None:
    instance = create_instance()
    create_job(instance, state=JobState.RUNNING)
    response = admin_page.post(f"/instances/{instance.pk}/delete/", follow=True)
    assert "Not deleted: the instance has a queued or running job" in response.content.decode()
    assert Instance.objects.filter(pk=instance.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_admins_may_register_edit_or_delete(role: Role) -> None:
    instance = create_instance()
    client = Client()
    client.force_login(create_user(role))
    assert client.get("/instances/new/").status_code == 403
    assert client.post("/instances/new/", form()).status_code == 403
    assert client.post(f"/instances/{instance.pk}/edit/", form()).status_code == 403
    assert client.post(f"/instances/{instance.pk}/delete/").status_code == 403
    assert Instance.objects.count() == 1


def test_a_stored_secret_flag_shows_as_stars_and_saving_keeps_it(admin_page: Client) -> None:
    instance = create_instance(launch_args=["--hf-token", "hf_stored_secret"])
    page = admin_page.get(f"/instances/{instance.pk}/edit/").content.decode()
    assert "hf_stored_secret" not in page
    assert "--hf-token &#x27;***&#x27;" in page  # shlex-quoted, then HTML-escaped
    admin_page.post(
        f"/instances/{instance.pk}/edit/", form(name=instance.name, launch_args="--hf-token '***'")
    )
    instance.refresh_from_db()
    assert instance.launch_args == ["--hf-token", "hf_stored_secret"]


@pytest.fixture
def operator_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.OPERATOR))
    return client


def test_an_operator_sets_the_idle_ladder_and_pins_an_instance(operator_page: Client) -> None:
    instance = create_instance()
    response = operator_page.post(
        f"/instances/{instance.pk}/idle/",
        {"idle_sleep_l1_seconds": "60", "idle_sleep_l2_seconds": "600", "pinned_awake": "on"},
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.idle_sleep_l1_seconds, instance.idle_sleep_l2_seconds) == (60, 600)
    assert instance.pinned_awake
    assert AuditEntry.objects.get(action="instance.idle_policy").outcome == Outcome.OK


def test_a_level_2_time_not_after_level_1_is_refused_beside_its_field(
    operator_page: Client,
) -> None:
    instance = create_instance(idle_sleep_l1_seconds=300)
    response = operator_page.post(
        f"/instances/{instance.pk}/idle/", {"idle_sleep_l1_seconds": "300",
                                            "idle_sleep_l2_seconds": "100"}
    )  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    field = page[page.index('id="field-idle_sleep_l2_seconds"') :]
    assert "Must be longer than the level-1 idle time." in field[: field.index("</div>")]
    instance.refresh_from_db()
    assert instance.idle_sleep_l2_seconds is None


def test_emptying_the_ladder_turns_idle_sleep_off(operator_page: Client) -> None:
    instance = create_instance(idle_sleep_l1_seconds=60, idle_sleep_l2_seconds=600)
    operator_page.post(f"/instances/{instance.pk}/idle/", {"idle_sleep_l1_seconds": ""})
    instance.refresh_from_db()
    assert (instance.idle_sleep_l1_seconds, instance.idle_sleep_l2_seconds) == (None, None)


def test_a_viewer_sees_the_policy_but_cannot_set_it() -> None:
    instance = create_instance(idle_sleep_l1_seconds=60)
    client = Client()
    client.force_login(create_user(Role.VIEWER))
    page = client.get(f"/instances/{instance.pk}/").content.decode()
    assert "Asleep after 60 s without a request (level 1)." in page
    assert 'id="idle-form"' not in page
    response = client.post(f"/instances/{instance.pk}/idle/", {"pinned_awake": "on"})
    assert response.status_code == 403
