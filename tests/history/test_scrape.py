"""Engine /metrics scrapes: interval percentiles, and a real emulator's figures."""

from __future__ import annotations

import math

import pytest

from console.history.scrape import EngineScraper, interval_figures
from console.models import Instance
from engines.metrics import EngineMetrics, Histogram
from tests.conftest import EmulatorFactory
from tests.console.conftest import create_instance
from tests.engines.conftest import complete

INF = math.inf


def metrics(ttft: Histogram | None, kv: float | None = 0.25) -> EngineMetrics:
    return EngineMetrics(running=1, waiting=2, kv_cache_usage=kv, sleep_state=None,
                         ttft=ttft, e2e_latency=None)  # fmt: skip


EARLIER = Histogram(((0.1, 2.0), (1.0, 2.0), (INF, 2.0)), sum=0.1, count=2.0)
LATER = Histogram(((0.1, 2.0), (1.0, 12.0), (INF, 12.0)), sum=5.1, count=12.0)


def test_first_scrape_gives_the_gauges_only() -> None:
    assert interval_figures(metrics(LATER), None) == {
        "running": 1, "waiting": 2, "kv_cache_usage": 0.25,
    }  # fmt: skip


def test_percentiles_are_those_of_the_interval_between_scrapes() -> None:
    figures = interval_figures(metrics(LATER), metrics(EARLIER))
    # The 10 requests of the interval all fell in (0.1, 1.0]: p50 at the middle of it.
    assert figures["ttft_p50"] == pytest.approx(0.55)
    assert figures["ttft_p95"] == pytest.approx(0.955)
    assert "e2e_p50" not in figures


def test_an_interval_without_requests_has_no_percentiles() -> None:
    figures = interval_figures(metrics(EARLIER), metrics(EARLIER))
    assert "ttft_p50" not in figures


def test_an_engine_without_kv_metric_leaves_it_out() -> None:
    assert "kv_cache_usage" not in interval_figures(metrics(None, kv=None), None)


@pytest.mark.django_db
def test_scraping_a_real_engine_gives_latency_after_requests(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory("--startup-seconds", "0", "--tokens-per-second", "2000") as emu:
        instance: Instance = create_instance(base_url=emu.url)
        scraper = EngineScraper(every=0.0)
        first = scraper.figures(instance)
        complete(emu, max_tokens=2)
        second = scraper.figures(instance)
    assert first["running"] == 0
    assert "ttft_p50" not in first
    assert second["ttft_p50"] > 0
    assert second["e2e_p95"] >= second["ttft_p50"]


@pytest.mark.django_db
def test_an_unreachable_engine_gives_no_figures() -> None:
    instance = create_instance(base_url="http://127.0.0.1:9")
    assert EngineScraper(every=0.0).figures(instance) == {}
