"""The history endpoints: roles, parameters, JSON for the charts and CSV downloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import Gpu, Instance, Job, JobKind, JobState, MemorySample, Subject
from tests.console.conftest import ClientFactory, create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(viewer: User, session_client: ClientFactory) -> APIClient:
    return session_client(viewer)


@pytest.fixture
def recent(gpu: Gpu) -> MemorySample:
    return MemorySample.objects.create(
        at=timezone.now() - timedelta(seconds=30), subject=Subject.GPU, host=gpu.host, gpu=gpu,
        used_bytes=42, total_bytes=100,
    )  # fmt: skip


def test_anonymous_requests_are_refused(session_client: ClientFactory, gpu: Gpu) -> None:
    response = session_client(None).get(f"/api/history/memory/?subject=gpu&id={gpu.pk}")
    assert response.status_code in (401, 403)


def test_a_user_without_role_is_refused(session_client: ClientFactory, gpu: Gpu) -> None:
    client = session_client(create_user(None))
    assert client.get(f"/api/history/memory/?subject=gpu&id={gpu.pk}").status_code == 403


def test_a_token_client_may_read_history(
    viewer: User, token_client: ClientFactory, recent: MemorySample
) -> None:
    response = token_client(viewer).get(f"/api/history/memory/?subject=gpu&id={recent.gpu_id}")
    assert response.status_code == 200


def test_memory_of_the_last_hour_is_raw_points(client: APIClient, recent: MemorySample) -> None:
    response = client.get(f"/api/history/memory/?subject=gpu&id={recent.gpu_id}")
    body = response.json()
    assert body["resolution"] == "raw"  # in 2-second buckets: 1,800 points at most
    assert body["points"] == [[int(recent.at.timestamp()) // 2 * 2, 42.0, 42, 42]]


def test_memory_range_is_read_from_start_and_end(client: APIClient, recent: MemorySample) -> None:
    end = recent.at - timedelta(seconds=1)
    start = end - timedelta(minutes=5)
    query = f"subject=gpu&id={recent.gpu_id}&start={start.isoformat()}&end={end.isoformat()}"
    assert client.get(f"/api/history/memory/?{query}").json()["points"] == []


def test_a_bad_subject_is_a_400(client: APIClient) -> None:
    response = client.get("/api/history/memory/?subject=disk&id=1")
    assert response.status_code == 400
    assert "subject" in response.json()


def test_a_bad_date_is_a_400(client: APIClient) -> None:
    assert client.get("/api/history/memory/?subject=gpu&id=1&start=yesterday").status_code == 400


def test_start_after_end_is_a_400(client: APIClient) -> None:
    query = "subject=gpu&id=1&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z"
    assert client.get(f"/api/history/memory/?{query}").status_code == 400


def test_memory_as_csv_is_a_download(client: APIClient, recent: MemorySample) -> None:
    response = client.get(f"/api/history/memory/?subject=gpu&id={recent.gpu_id}&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, row = response.content.decode().splitlines()
    assert header == "time,avg_used_bytes,min_used_bytes,max_used_bytes"
    assert row.endswith(",42.0,42,42")


def test_timings_list_finished_sleeps_and_wakes(client: APIClient, instance: Instance) -> None:
    Job.objects.create(
        instance=instance, kind=JobKind.SLEEP, state=JobState.SUCCEEDED,
        finished_at=timezone.now(), engine_seconds=1.5, params={"level": 1},
    )  # fmt: skip
    body = client.get(f"/api/history/timings/?instance={instance.pk}").json()
    assert [(t["kind"], t["engine_seconds"], t["level"]) for t in body["timings"]] == [
        ("sleep", 1.5, 1)
    ]


def test_timings_as_csv_name_their_columns(client: APIClient, instance: Instance) -> None:
    Job.objects.create(instance=instance, kind=JobKind.WAKE, state=JobState.SUCCEEDED,
                       finished_at=timezone.now(), engine_seconds=0.5)  # fmt: skip
    text = client.get(f"/api/history/timings/?instance={instance.pk}&format=csv").content
    assert text.decode().splitlines()[0].startswith("job_id,kind,via,level,at,engine_seconds")


def test_latency_without_figures_says_why(client: APIClient, instance: Instance) -> None:
    body = client.get(f"/api/history/latency/?instance={instance.pk}").json()
    assert body["points"] == []
    assert "no latency figures" in body["note"]


def test_latency_needs_a_numeric_instance(client: APIClient) -> None:
    assert client.get("/api/history/latency/?instance=abc").status_code == 400


def test_an_unescaped_plus_of_an_offset_is_understood(
    client: APIClient, recent: MemorySample
) -> None:
    end = (recent.at + timedelta(seconds=1)).astimezone(timezone.get_fixed_timezone(120))
    start = end - timedelta(minutes=5)
    query = f"subject=gpu&id={recent.gpu_id}&start={start.isoformat()}&end={end.isoformat()}"
    assert "+02:00" in query
    assert len(client.get(f"/api/history/memory/?{query}").json()["points"]) == 1


def test_an_id_beyond_64_bits_is_a_json_400(client: APIClient) -> None:
    # Was an OverflowError (500) from the database driver.
    response = client.get("/api/history/memory/?subject=gpu&id=99999999999999999999")
    assert response.status_code == 400
    assert "id" in response.json()


def test_an_instance_id_beyond_64_bits_is_a_json_400(client: APIClient) -> None:
    response = client.get("/api/history/timings/?instance=99999999999999999999")
    assert response.status_code == 400
    assert "instance" in response.json()


def test_an_offset_beyond_a_day_is_a_json_400(client: APIClient) -> None:
    # "+99:00" parses as a date but no timezone has it (was a ValueError, 500).
    query = "subject=gpu&id=1&start=2026-01-01T00:00:00%2B99:00"
    response = client.get(f"/api/history/memory/?{query}")
    assert response.status_code == 400
    assert "start" in response.json()
