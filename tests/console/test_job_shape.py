"""One job shape: the REST API and the websocket say a job with the same keys and values."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from console.models import Job, JobKind, JobState
from console.realtime.messages import JobFields
from console.realtime.payloads import job_update
from tests.console.conftest import ClientFactory, create_instance, create_job

pytestmark = pytest.mark.django_db


def both_shapes(
    job: Job, client_for: ClientFactory, user: User
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job as ``GET /api/jobs/<id>/`` answers it and as ``job.update`` sends it."""
    rest = client_for(user).get(f"/api/jobs/{job.pk}/").json()
    return rest, dict(job_update(Job.objects.get(pk=job.pk)))


def test_rest_and_websocket_say_an_operators_job_alike(
    session_client: ClientFactory, operator: User
) -> None:
    job = create_job(create_instance(), JobKind.SLEEP, requested_by=operator,
                     params={"level": 1}, state=JobState.SUCCEEDED, engine_seconds=0.31,
                     freed_gib=75.9, error="")  # fmt: skip
    rest, event = both_shapes(job, session_client, operator)
    assert {key: rest[key] for key in JobFields.__required_keys__} == {
        key: event[key] for key in JobFields.__required_keys__
    }
    assert (event["id"], event["author"]) == (job.pk, operator.username)


def test_a_job_woken_through_the_gateway_names_its_key_in_both(
    session_client: ClientFactory, viewer: User
) -> None:
    job = create_job(create_instance(), JobKind.WAKE, params={"inference_key": "team-a"})
    rest, event = both_shapes(job, session_client, viewer)
    assert rest["author"] == event["author"] == "inference key team-a"
