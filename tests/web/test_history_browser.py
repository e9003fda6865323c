"""The history page's charts in a real browser: each spans exactly the chosen range, with
one point or two (uPlot alone drew one day's single job from Apr 2027 to Aug 2029)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from console.models import (
    GatewaySample,
    Gpu,
    Instance,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Resolution,
    Subject,
)
from tests.console.conftest import create_host, create_instance
from tests.web.conftest import LiveConsole

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GIB = 1 << 30
DAY_SECONDS = 86_400
CHARTS = ("history-chart", "held-chart", "timings-chart", "gateway-chart")


@pytest.fixture
def history(transactional_db: None, request: pytest.FixtureRequest) -> Instance:
    """An instance with ``request.param`` memory samples (its RSS, and its GPU's), sleeps
    and gateway minutes in the last day, hours apart."""
    points: int = request.param
    host = create_host("gpu-h", gpus=1)
    instance = create_instance(name="llama", host=host, gpus=[host.gpus.get()])
    now = timezone.now()
    for index in range(points):
        at = now - timedelta(hours=3 + 5 * index)
        # A day is charted from minute rollups (resolution.choose).
        MemorySample.objects.create(
            at=at, resolution=Resolution.MINUTE, subject=Subject.INSTANCE, host=host,
            instance=instance, used_bytes=(4 + index) * GIB,
        )  # fmt: skip
        MemorySample.objects.create(
            at=at, resolution=Resolution.MINUTE, subject=Subject.GPU, host=host,
            gpu=host.gpus.get(), used_bytes=8 * GIB, extra={"processes": {"llama": 6 * GIB}},
        )  # fmt: skip
        Job.objects.create(instance=instance, kind=JobKind.SLEEP, state=JobState.SUCCEEDED,
                           params={"level": 1}, finished_at=at, engine_seconds=0.3)  # fmt: skip
        GatewaySample.objects.create(at=at, model=instance.served_model_name, requests=5,
                                     held=1, held_seconds=0.8, wakes_on_request=1)  # fmt: skip
    return instance


@pytest.mark.parametrize(("history", "points"), [(1, 1), (2, 2)], indirect=["history"])
def test_every_chart_spans_the_chosen_day_with_few_points(
    live_console: LiveConsole, viewer_user: User, history: Instance, points: int, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    page.goto(f"{live_console.url}/history/?subject=instance%3A{history.pk}&range=24h")
    now = timezone.now().timestamp()
    for chart_id in CHARTS:
        chart = page.locator(f"#{chart_id}")
        expect(chart).to_have_attribute("data-points", str(points))
        x_min = float(chart.get_attribute("data-x-min") or "nan")
        x_max = float(chart.get_attribute("data-x-max") or "nan")
        assert x_max - x_min == pytest.approx(DAY_SECONDS, abs=1), chart_id
        assert now - 120 < x_max <= now + 1, chart_id
        expect(chart.locator("[data-field='message']")).to_be_hidden()


@pytest.fixture
def held_gpu(transactional_db: None) -> Gpu:
    """A GPU with one minute rollup in the last day, held by an instance and others."""
    host = create_host("gpu-g", gpus=1)
    gpu = host.gpus.get()
    MemorySample.objects.create(
        at=timezone.now() - timedelta(hours=2), resolution=Resolution.MINUTE,
        subject=Subject.GPU, host=host, gpu=gpu, used_bytes=5 * GIB,
        extra={"processes": {"llama": 4 * GIB, "other": GIB}},
    )  # fmt: skip
    return gpu


def test_a_gpus_holders_are_charted_over_the_chosen_day(
    live_console: LiveConsole, viewer_user: User, held_gpu: Gpu, page: Page
) -> None:
    live_console.sign_in(page, viewer_user)
    page.goto(f"{live_console.url}/history/?subject=gpu%3A{held_gpu.pk}&range=24h")
    chart = page.locator("#held-chart")
    expect(chart).to_have_attribute("data-points", "1")
    expect(chart.locator(".u-legend")).to_contain_text("llama")
    expect(chart.locator(".u-legend")).to_contain_text("other processes")
    x_min = float(chart.get_attribute("data-x-min") or "nan")
    x_max = float(chart.get_attribute("data-x-max") or "nan")
    assert x_max - x_min == pytest.approx(DAY_SECONDS, abs=1)
