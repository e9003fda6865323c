"""Per-key usage: drained from Redis into hourly rows, exported as CSV and in /metrics."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from console.gateway.history import RETENTION
from console.gateway.usage import UsageBook, pending_key
from console.gateway.usage_store import claimed_key, drain
from console.models.gateway import InferenceKey, KeyUsage

pytestmark = pytest.mark.django_db
PREFIX = settings.REDIS_PREFIX
HOUR = int(datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp())


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{PREFIX}gw:usage:*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def key() -> InferenceKey:
    return InferenceKey.issue("app", [])[0]


def flushed(book: UsageBook) -> None:
    async def flush() -> None:
        client = AsyncRedis.from_url(settings.REDIS_URL)
        await book.flush(client)
        await client.aclose()

    asyncio.run(flush())


def counted(key_id: int, hour: int = HOUR, **counts: float) -> None:
    """What a web process flushes after answering for the key in that hour."""
    book = UsageBook(PREFIX)
    book.pending[(hour, key_id, "org/m")] = dict(counts)
    flushed(book)


def usage(key: InferenceKey) -> dict[str, Any]:
    row = KeyUsage.objects.get(key=key)
    return {name: getattr(row, name) for name in ("requests", "prompt_tokens",
                                                  "completion_tokens", "rejected")}  # fmt: skip


def test_a_drain_moves_the_counts_to_the_hours_row_and_empties_redis(
    redis: Redis, key: InferenceKey
) -> None:
    counted(key.pk, requests=2, prompt_tokens=10, completion_tokens=7, rejected=1)
    assert drain() == 1
    assert usage(key) == {"requests": 2, "prompt_tokens": 10, "completion_tokens": 7,
                          "rejected": 1}  # fmt: skip
    assert KeyUsage.objects.get().hour == datetime.fromtimestamp(HOUR, tz=UTC)
    assert not redis.exists(pending_key(PREFIX))


def test_later_drains_add_to_the_same_hour(redis: Redis, key: InferenceKey) -> None:
    counted(key.pk, requests=1, prompt_tokens=4)
    drain()
    counted(key.pk, requests=1, prompt_tokens=6, held_seconds=1.5)
    drain()
    row = KeyUsage.objects.get()
    assert (row.requests, row.prompt_tokens, row.held_seconds) == (2, 10, 1.5)


def test_counts_a_drain_claimed_but_did_not_store_are_stored_by_the_next(
    redis: Redis, key: InferenceKey
) -> None:
    counted(key.pk, requests=3)
    redis.rename(pending_key(PREFIX), claimed_key(PREFIX, "crashed"))
    drain()
    assert usage(key)["requests"] == 3
    assert not list(redis.scan_iter(claimed_key(PREFIX, "*")))


def test_a_drain_drops_rows_older_than_the_history_keeps(redis: Redis, key: InferenceKey) -> None:
    old = datetime.now(UTC) - RETENTION - timedelta(hours=1)
    KeyUsage.objects.create(key=key, model="org/m", hour=old, requests=1)
    KeyUsage.objects.create(key=key, model="org/m", hour=datetime.now(UTC), requests=1)
    drain()
    assert KeyUsage.objects.get().hour > old


@pytest.fixture
def operator_page(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def csv_rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csv_has_a_row_per_hour_key_and_model(
    redis: Redis, key: InferenceKey, operator_page: Client
) -> None:
    counted(key.pk, requests=2, prompt_tokens=10, completion_tokens=7)
    counted(key.pk, hour=HOUR + 3600, requests=1, prompt_tokens=1)
    drain()
    response = operator_page.get("/api/usage.csv", {"start": "2026-12-01T00:00:00Z",
                                                    "end": "2026-12-02T00:00:00Z"})  # fmt: skip
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert [(r["period"], r["key"], r["model"], r["requests"]) for r in rows] == [
        ("2026-12-01T10:00:00+00:00", "app", "org/m", "2"),
        ("2026-12-01T11:00:00+00:00", "app", "org/m", "1"),
    ]
    assert rows[0]["prompt_tokens"] == "10"
    assert key.key_hash not in response.content.decode()


def test_per_day_sums_the_hours(redis: Redis, key: InferenceKey, operator_page: Client) -> None:
    counted(key.pk, requests=2)
    counted(key.pk, hour=HOUR + 3600, requests=1)
    drain()
    response = operator_page.get("/api/usage.csv", {"per": "day", "key": str(key.pk),
                                                    "start": "2026-11-30T00:00:00Z",
                                                    "end": "2026-12-03T00:00:00Z"})  # fmt: skip
    assert [(r["period"], r["requests"]) for r in csv_rows(response)] == [
        ("2026-12-01T00:00:00+00:00", "3")
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"per": "week"}, "per"), ({"key": "abc"}, "key"), ({"start": "yesterday"}, "start"),
     ({"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "start")],
)  # fmt: skip
def test_bad_queries_are_400_with_the_field(
    operator_page: Client, query: dict[str, str], field: str
) -> None:
    response = operator_page.get("/api/usage.csv", query)
    assert response.status_code == 400
    assert field in response.json()


def test_viewers_may_not_read_usage(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/usage.csv").status_code == 403
    assert client.get("/api/usage/").status_code == 403


def test_metrics_carry_usage_per_key_name_and_model_never_the_key(
    redis: Redis, key: InferenceKey, settings: Any
) -> None:
    settings.CONSOLE_METRICS_PUBLIC = True
    counted(key.pk, requests=2, prompt_tokens=10, completion_tokens=7, rejected=1)
    drain()
    text = Client().get("/metrics").content.decode()
    families = text_string_to_metric_families(text)
    samples = {(s.name, s.labels.get("key"), s.labels.get("model")): s.value
               for family in families for s in family.samples}  # fmt: skip
    assert samples[("vllm_console_key_requests_total", "app", "org/m")] == 2
    assert samples[("vllm_console_key_prompt_tokens_total", "app", "org/m")] == 10
    assert samples[("vllm_console_key_completion_tokens_total", "app", "org/m")] == 7
    assert samples[("vllm_console_key_rejected_total", "app", "org/m")] == 1
    assert key.prefix not in text
    assert key.key_hash not in text


def test_the_json_for_the_chart_has_the_same_rows(
    redis: Redis, key: InferenceKey, operator_page: Client
) -> None:
    counted(key.pk, hour=int((datetime.now(UTC) - timedelta(hours=1)).timestamp()), requests=4)
    drain()
    data = operator_page.get("/api/usage/").json()
    assert data["fields"][:4] == ["period", "key_id", "key", "model"]
    assert [row[4] for row in data["rows"]] == [4]
