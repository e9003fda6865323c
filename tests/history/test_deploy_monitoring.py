"""deploy/: the Grafana dashboard and the Prometheus alert rules use only series that a
live console's /metrics exports, with label values it exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from console.models import JobKind, JobState, MemorySample, Subject
from console.models.notifications import NotificationDelivery, NotificationRule
from tests.console.conftest import create_host, create_instance, create_job

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "vllm-console.json"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
TOKEN = "scrape-token-for-deploy-tests"
# A series name, with the label matchers right after it, if any.
SELECTOR = re.compile(r"\b(vllm_console_[a-z0-9_]+)(?:\{([^}]*)\})?")
EQUALS = re.compile(r'(\w+)="([^"]*)"')
# What is not a series name in a query: strings, matchers, ranges, grouping label lists,
# a Grafana variable query's label; then any name not called as a function is a series.
NOT_SERIES = (
    r'"[^"]*"', r"\{[^}]*\}", r"\[[^\]]*\]",
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r",\s*\w+\s*\)",
)  # fmt: skip
NAME = re.compile(r"(?<![\w$.])([A-Za-z_:][\w:]*)\b(?!\s*\()")
OPERATORS = {"and", "or", "unless", "bool", "offset"}
Samples = dict[str, list[dict[str, str]]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    variables = dashboard["templating"]["list"]
    return queries + [v["definition"] for v in variables if v["type"] == "query"]


def alert_queries() -> list[str]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


@pytest.fixture
def scraped(live_server: Any, settings: Any) -> Samples:
    """Every sample of a live console's /metrics, with rows behind each family."""
    settings.CONSOLE_METRICS_PUBLIC = False
    settings.CONSOLE_METRICS_TOKEN = TOKEN
    host = create_host("gpu-a", last_heartbeat=timezone.now())
    gpu = host.gpus.get()
    instance = create_instance(state="error")
    instance.gpus.set([gpu])
    for kind, state in ((JobKind.WAKE, JobState.FAILED), (JobKind.SLEEP, JobState.SUCCEEDED)):
        create_job(instance, kind, state=state, wall_seconds=1.5, engine_seconds=0.8)
    MemorySample.objects.create(at=timezone.now(), subject=Subject.GPU, host=host, gpu=gpu,
                                used_bytes=70 << 30, total_bytes=80 << 30)  # fmt: skip
    MemorySample.objects.create(at=timezone.now(), subject=Subject.HOST, host=host,
                                used_bytes=100 << 30, total_bytes=512 << 30)  # fmt: skip
    rule = NotificationRule.objects.create(name="r", url="json://127.0.0.1:9/h")
    NotificationDelivery.objects.create(rule=rule, kind="test", summary="s", state="failed")
    answer = httpx.get(f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
    return samples


def unexported(queries: list[str], samples: Samples) -> list[str]:
    """Each selector of ``queries`` that no scraped sample matches (name and = matchers)."""
    missing = []
    for query in queries:
        for name, matchers in SELECTOR.findall(query):
            wanted = dict(EQUALS.findall(matchers))
            if not any(wanted.items() <= labels.items() for labels in samples.get(name, [])):
                missing.append(f"{name}{{{matchers}}}")
    return missing


@pytest.mark.django_db(transaction=True)
def test_every_series_the_dashboard_uses_is_exported(scraped: Samples) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 10
    assert unexported(queries, scraped) == []


@pytest.mark.django_db(transaction=True)
def test_every_series_the_alert_rules_use_is_exported(scraped: Samples) -> None:
    queries = alert_queries()
    assert len(queries) >= 8
    assert unexported(queries, scraped) == []


def test_the_check_catches_a_series_that_is_not_exported() -> None:
    samples: Samples = {"vllm_console_jobs_total": [{"kind": "wake", "state": "failed"}]}
    assert unexported(['vllm_console_jobs_total{state="failed"}'], samples) == []
    wrong = ['vllm_console_jobs_total{state="lost"}', "vllm_console_nope"]
    assert unexported(wrong, samples) == [wrong[0], "vllm_console_nope{}"]


def test_every_alert_rule_has_a_severity_and_a_summary() -> None:
    rules = [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]
             for rule in group["rules"]]  # fmt: skip
    for rule in rules:
        assert rule["alert"].startswith("VllmConsole")
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def series_names(query: str) -> set[str]:
    for pattern in NOT_SERIES:
        query = re.sub(pattern, " ", query)
    return set(NAME.findall(query)) - OPERATORS


def test_the_files_read_no_series_but_the_consoles() -> None:
    for query in dashboard_queries() + alert_queries():
        names = series_names(query)
        assert names, query
        assert {name for name in names if not name.startswith("vllm_console_")} == set(), query


def test_a_foreign_series_is_told_apart_from_labels_and_functions() -> None:
    query = 'sum by (kind) (rate(up{job="x"}[5m])) / vllm_console_jobs_total > 0.5'
    assert series_names(query) == {"up", "vllm_console_jobs_total"}
