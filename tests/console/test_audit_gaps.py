"""What used to leave no audit entry, and the target with two names."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from console.jobs.service import JobRefusedError
from console.models import AuditEntry, Instance, InstanceState, JobKind, Outcome
from console.models.gateway import InferenceKey
from console.roles import ROLE_REFUSAL, Role
from console.services.demo import register_demo_instances, request_demo_job
from console.web.csrf import CSRF_ACTION
from tests.console.conftest import ClientFactory, create_host, create_user

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    ["/keys/", "/keys/{key}/limits/", "/keys/{key}/revoke/", "/logout/", "/login/", "/users/",
     "/tokens/", "/tokens/revoke/"],
)  # fmt: skip
def test_a_csrf_failure_on_a_page_form_is_audited(path: str) -> None:
    admin = create_user(Role.ADMIN)
    key, _ = InferenceKey.issue("app", [])
    url = path.format(key=key.pk)
    response = signed_in(admin).post(url, {"name": "app"}, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=CSRF_ACTION)
    assert (entry.outcome, entry.username, entry.remote_addr) == (
        Outcome.REFUSED, admin.username, "10.9.8.7",
    )  # fmt: skip
    assert entry.detail["path"] == url
    assert "CSRF" in entry.detail["reason"]


@pytest.mark.parametrize(
    ("path", "needs"),
    [("/keys/", "tokens.manage"), ("/keys/{key}/revoke/", "tokens.manage"),
     ("/users/", "users.manage"), ("/instances/new/", "instances.manage"),
     ("/alerts/", "alerts.manage")],
)  # fmt: skip
def test_a_page_form_refused_for_the_role_is_audited(path: str, needs: str) -> None:
    viewer = create_user(Role.VIEWER)
    key, _ = InferenceKey.issue("app", [])
    url = path.format(key=key.pk)
    client = Client()
    client.force_login(viewer)
    response = client.post(url, {"name": "app", "password": "not-in-the-log"},
                           REMOTE_ADDR="10.9.8.7")  # fmt: skip
    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=ROLE_REFUSAL)
    assert (entry.outcome, entry.username, entry.remote_addr) == (
        Outcome.REFUSED, viewer.username, "10.9.8.7",
    )  # fmt: skip
    assert entry.detail == {"method": "POST", "path": url, "needs": needs}
    key.refresh_from_db()
    assert key.revoked_at is None
    assert InferenceKey.objects.count() == 1


def test_a_page_read_refused_for_the_role_is_not_audited() -> None:
    client = Client()
    client.force_login(create_user(Role.VIEWER))
    assert client.get("/users/").status_code == 403
    assert not AuditEntry.objects.filter(action=ROLE_REFUSAL).exists()


def test_a_csrf_failure_changes_nothing() -> None:
    signed_in(create_user(Role.ADMIN)).post("/keys/", {"name": "app"})
    assert not InferenceKey.objects.exists()
    assert not AuditEntry.objects.filter(action="inference_key.create").exists()


def test_an_inference_key_has_one_name_in_the_audit_log(
    admin: User, token_client: ClientFactory
) -> None:
    api = token_client(admin)
    created = api.post("/api/inference-keys/", {"name": "ci"}, format="json").json()
    api.delete(f"/api/inference-keys/{created['id']}/")
    page = Client()
    page.force_login(admin)
    page.post("/keys/", {"name": "app"})
    page.post(f"/keys/{InferenceKey.objects.get(name='app').pk}/revoke/")
    page.post("/keys/", {"name": ""})  # invalid: audited as failed
    entries = AuditEntry.objects.filter(action__startswith="inference")
    assert entries.count() == 5
    assert set(entries.values_list("target_type", flat=True)) == {"inference_key"}
    assert {a.split(".")[0] for a in entries.values_list("action", flat=True)} == {"inference_key"}


def test_the_demo_s_instances_and_jobs_are_audited() -> None:
    host = create_host(last_heartbeat=timezone.now())
    first, _ = register_demo_instances(host)
    job = request_demo_job(first, JobKind.LAUNCH, {})
    created = AuditEntry.objects.filter(action="instance.create")
    assert set(created.values_list("username", "target_repr")) == {
        ("demo", str(i)) for i in Instance.objects.all()
    }
    launch = AuditEntry.objects.get(action="job.launch")
    assert (launch.username, launch.target_type, launch.target_id, launch.detail["job"]) == (
        "demo", "instance", str(first.pk), job.pk,
    )  # fmt: skip
    assert first.state == InstanceState.STOPPED


def test_a_demo_job_refused_is_audited_as_refused() -> None:
    offline = create_host()
    first, _ = register_demo_instances(offline)
    with pytest.raises(JobRefusedError):
        request_demo_job(first, JobKind.LAUNCH, {})
    entry = AuditEntry.objects.get(action="job.launch")
    assert (entry.username, entry.outcome) == ("demo", Outcome.REFUSED)
    assert "offline" in entry.detail["reason"]
