"""Reading the API: jobs with filters and pages, hosts, the audit log, ``me``, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from console import audit
from console.api.errors import exception_handler
from console.models import Host, Instance, JobKind, JobState, Outcome
from tests.console.conftest import ClientFactory, create_job

InstanceFactory = Callable[..., Instance]


def test_jobs_filter_by_instance_and_state(
    viewer: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    mine, other = make_instance(), make_instance()
    wanted = create_job(mine, state=JobState.FAILED)
    create_job(mine, state=JobState.SUCCEEDED)
    create_job(other, state=JobState.FAILED)
    response = token_client(viewer).get(f"/api/jobs/?instance={mine.pk}&state=failed")
    assert [job["id"] for job in response.json()["results"]] == [wanted.pk]


def test_jobs_filter_by_kind(
    viewer: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    wake = create_job(instance, kind=JobKind.WAKE)
    create_job(instance, kind=JobKind.SLEEP)
    response = token_client(viewer).get("/api/jobs/?kind=wake")
    assert [job["id"] for job in response.json()["results"]] == [wake.pk]


def test_unknown_job_state_filter_is_a_400(viewer: User, token_client: ClientFactory) -> None:
    response = token_client(viewer).get("/api/jobs/?state=sleepy")
    assert response.status_code == 400
    assert "queued" in response.json()["state"]


def test_jobs_are_paged_with_limit_and_offset(
    viewer: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    instance = make_instance()
    jobs = [create_job(instance, state=JobState.SUCCEEDED) for _ in range(3)]
    page = token_client(viewer).get("/api/jobs/?limit=2&offset=1").json()
    assert page["count"] == 3
    assert [job["id"] for job in page["results"]] == [jobs[1].pk, jobs[0].pk]
    assert page["next"] is None


def test_job_shows_who_asked_but_only_admins_see_from_where(
    viewer: User, admin: User, token_client: ClientFactory, make_instance: InstanceFactory
) -> None:
    job = create_job(make_instance(), requested_by=admin, requested_from="10.0.0.9")
    seen_by_viewer = token_client(viewer).get(f"/api/jobs/{job.pk}/").json()
    seen_by_admin = token_client(admin).get(f"/api/jobs/{job.pk}/").json()
    assert seen_by_viewer["requested_by"] == "ada"
    assert "requested_from" not in seen_by_viewer
    assert seen_by_admin["requested_from"] == "10.0.0.9"


def test_hosts_list_their_gpus_and_whether_they_are_online(
    viewer: User, token_client: ClientFactory, make_host: Callable[..., Host]
) -> None:
    make_host("fresh", gpus=2, last_heartbeat=timezone.now())
    make_host("stale", gpus=0, last_heartbeat=timezone.now() - timedelta(minutes=5))
    hosts = {h["name"]: h for h in token_client(viewer).get("/api/hosts/").json()["results"]}
    assert hosts["fresh"]["online"] is True
    assert [gpu["index"] for gpu in hosts["fresh"]["gpus"]] == [0, 1]
    assert hosts["stale"]["online"] is False


def test_me_says_who_i_am_and_what_i_may_do(operator: User, token_client: ClientFactory) -> None:
    me = token_client(operator).get("/api/me/").json()
    assert me["username"] == "otto"
    assert me["role"] == "operator"
    assert "wake" in me["actions"]
    assert "instances.manage" not in me["actions"]


def test_audit_log_filters_by_outcome_and_action(admin: User, token_client: ClientFactory) -> None:
    audit.record(None, "instance.create", Outcome.OK)
    audit.record(None, "instance.create", Outcome.REFUSED)
    audit.record(None, "instance.delete", Outcome.REFUSED)
    entries = token_client(admin).get("/api/audit/?outcome=refused&action=instance.create")
    assert [(e["action"], e["outcome"]) for e in entries.json()["results"]] == [
        ("instance.create", "refused")
    ]


def test_unknown_api_path_answers_json_404(db: None, token_client: ClientFactory) -> None:
    response = token_client(None).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API endpoint."}


def test_unknown_object_answers_json_404(viewer: User, token_client: ClientFactory) -> None:
    response = token_client(viewer).get("/api/instances/999/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_method_not_offered_answers_json_405(admin: User, token_client: ClientFactory) -> None:
    response = token_client(admin).post("/api/jobs/", {}, format="json")
    assert response.status_code == 405
    assert "detail" in response.json()


def test_path_without_its_slash_names_the_right_one(
    viewer: User, token_client: ClientFactory
) -> None:
    response = token_client(viewer).get("/api/instances")
    assert response.status_code == 404
    assert "did you mean /api/instances/" in response.json()["detail"]


def test_unexpected_error_is_a_json_500_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    response = exception_handler(RuntimeError("boom"), {"view": None})
    assert response.status_code == 500
    assert "server log" in response.data["detail"]
    assert "boom" in caplog.text


def test_user_without_a_role_is_refused_not_told_the_method_is_missing(
    make_user: Callable[..., User], token_client: ClientFactory
) -> None:
    response = token_client(make_user(None)).post("/api/jobs/", {}, format="json")
    assert response.status_code == 403
