"""Cancelling a queued job: operators only, queued jobs only, audited."""

from __future__ import annotations

from django.contrib.auth.models import User

from console.models import AuditEntry, Job, JobState, Outcome
from tests.console.conftest import ClientFactory, create_instance, create_job


def queued_job() -> Job:
    return create_job(create_instance(), state=JobState.QUEUED)


def test_operator_cancels_a_queued_job(operator: User, token_client: ClientFactory) -> None:
    job = queued_job()
    response = token_client(operator).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["state"]) == (job.pk, "cancelled")
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert job.error == f"cancelled by {operator.username}"
    assert job.finished_at is not None


def test_a_running_job_cannot_be_cancelled(operator: User, token_client: ClientFactory) -> None:
    job = create_job(create_instance(), state=JobState.RUNNING)
    response = token_client(operator).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"job {job.pk} is running, not queued: only a job that no worker has taken "
        "yet can be cancelled",
        "state": "running",
    }
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_a_job_cancelled_twice_answers_409_the_second_time(
    operator: User, token_client: ClientFactory
) -> None:
    job = queued_job()
    client = token_client(operator)
    assert client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 200
    second = client.post(f"/api/jobs/{job.pk}/cancel/")
    assert second.status_code == 409
    assert second.json()["state"] == "cancelled"


def test_cancelling_an_unknown_job_is_a_json_404(
    operator: User, token_client: ClientFactory
) -> None:
    response = token_client(operator).post("/api/jobs/987654/cancel/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_viewer_cannot_cancel(viewer: User, token_client: ClientFactory) -> None:
    job = queued_job()
    assert token_client(viewer).post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_a_cancel_is_audited_with_the_job_and_its_instance(
    operator: User, token_client: ClientFactory
) -> None:
    job = queued_job()
    token_client(operator).post(f"/api/jobs/{job.pk}/cancel/")
    entry = AuditEntry.objects.get(action="job.cancel")
    assert (entry.username, entry.outcome, entry.target_type, entry.target_id) == (
        operator.username, Outcome.OK, "job", str(job.pk),
    )  # fmt: skip
    assert entry.detail == {"status": 200, "instance": job.instance_id}


def test_a_refused_cancel_is_audited_as_failed(operator: User, token_client: ClientFactory) -> None:
    job = create_job(create_instance(), state=JobState.SUCCEEDED)
    token_client(operator).post(f"/api/jobs/{job.pk}/cancel/")
    entry = AuditEntry.objects.get(action="job.cancel")
    assert (entry.outcome, entry.detail["status"]) == (Outcome.FAILED, 409)
