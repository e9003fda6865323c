"""Gateway figures in the history: interval counts from the cumulative counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from redis import Redis
from rest_framework.test import APIClient

from console.gates import redis_keys
from console.gateway.history import deltas, record
from console.models import GatewaySample
from console.roles import Role
from tests.console.conftest import create_user

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def count(redis: Redis, model: str, **counters: float) -> None:
    """What the web processes' tallies do: add to a model's counters."""
    redis.sadd(redis_keys.figures_index(settings.REDIS_PREFIX), model)
    for name, value in counters.items():
        redis.hincrbyfloat(redis_keys.figures(settings.REDIS_PREFIX, model), name, value)


def test_a_counter_that_went_down_was_reset_and_counts_whole() -> None:
    previous = {"m": {"requests": 10.0, "errors": 2.0}}
    current = {"m": {"requests": 4.0, "errors": 3.0}, "idle": {"requests": 0.0}}
    changes = deltas(current, previous)
    assert set(changes) == {"m"}
    assert (changes["m"]["requests"], changes["m"]["errors"]) == (4.0, 1.0)


@pytest.mark.django_db
def test_each_reading_stores_what_happened_since_the_last(clean_gateway_keys: Redis) -> None:
    count(clean_gateway_keys, "org/a", requests=5, held=2, held_seconds=3.5, wakes_on_request=1)
    assert record(T0) == 1
    count(clean_gateway_keys, "org/a", requests=3)
    count(clean_gateway_keys, "org/b", requests=1, errors=1)
    assert record(T0 + timedelta(minutes=1)) == 2
    assert record(T0 + timedelta(minutes=2)) == 0
    rows = list(GatewaySample.objects.values_list("model", "requests", "held_seconds", "errors"))
    assert rows == [("org/a", 5, 3.5, 0), ("org/a", 3, 0.0, 0), ("org/b", 1, 0.0, 1)]


@pytest.mark.django_db
def test_the_history_endpoint_sums_per_minute_and_downloads_csv() -> None:
    for seconds, requests in ((0, 2), (20, 3), (70, 4)):
        GatewaySample.objects.create(at=T0 + timedelta(seconds=seconds), model="org/a",
                                     requests=requests)  # fmt: skip
    GatewaySample.objects.create(at=T0, model="org/b", requests=100)
    client = APIClient()
    client.force_authenticate(create_user(Role.VIEWER))
    window = {
        "model": "org/a",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
    }
    answer = client.get("/api/history/gateway/", window).json()
    assert answer["resolution"] == "1m"
    assert [(point[0], point[1]) for point in answer["points"]] == [
        (T0.timestamp(), 5.0),
        ((T0 + timedelta(minutes=1)).timestamp(), 4.0),
    ]
    csv = client.get("/api/history/gateway/", {**window, "format": "csv"})
    assert csv["Content-Disposition"] == 'attachment; filename="gateway-org_a.csv"'
    assert csv.content.decode().splitlines()[0].startswith("time,requests,errors,held")


@pytest.mark.django_db
def test_a_time_with_an_odd_utc_offset_is_read_in_utc() -> None:
    client = APIClient()
    client.force_authenticate(create_user(Role.VIEWER))
    odd = {"start": "0409-04-19T10:52:13-18:28", "end": "0409-04-20T10:52:13-18:28"}
    answer = client.get("/api/history/gateway/", odd)
    assert answer.status_code == 200
    assert (
        client.get("/api/history/gateway/", {"end": "0001-01-01T00:00:00+15:00"}).status_code == 400
    )
